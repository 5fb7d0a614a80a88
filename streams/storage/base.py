"""The object-store interface: what inputs, outputs, job records and keys are kept in.

One blocking interface with two implementations: :class:`~streams.storage.s3.S3ObjectStore`
(any S3-compatible store) and :class:`~streams.storage.memory.MemoryObjectStore` (unit
tests, dry runs). Callers on the event loop use ``asyncio.to_thread``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Protocol


class Presigner(Protocol):
    """Hands out time-limited download links (the webhook and API answers' output URLs)."""

    def presigned_get_url(self, bucket: str, key: str, expires: timedelta) -> str:
        """A URL anyone holding it can GET the object with until ``expires`` passes.
        Computed locally: the object is not checked and the store is not called."""


class ObjectStore(ABC):
    """Blocking object store used for inputs, outputs and job records.

    Every method raises :class:`~streams.exceptions.ObjectNotFoundError` for a missing
    object or bucket and :class:`~streams.exceptions.StorageUnavailableError` when the
    store cannot be reached.
    """

    @abstractmethod
    def ensure_bucket(self, bucket: str) -> None:
        """Create ``bucket`` unless it exists. Called once at provisioning time."""

    @abstractmethod
    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        """Write ``data`` at ``key``, replacing what was there."""

    @abstractmethod
    def put_file(self, bucket: str, key: str, path: Path, content_type: str) -> None:
        """Write the file at ``path`` at ``key``, streamed from disk (never read whole)."""

    @abstractmethod
    def get(self, bucket: str, key: str) -> bytes:
        """Read the whole object at ``key``."""

    @abstractmethod
    def get_with_etag(self, bucket: str, key: str) -> tuple[bytes, str]:
        """Read the whole object and its ETag (the version a :meth:`put_if_match` names)."""

    @abstractmethod
    def put_if_absent(self, bucket: str, key: str, data: bytes, content_type: str) -> bool:
        """Create the object unless one exists at ``key`` (``If-None-Match: *``); whether
        it was created. Atomic: of concurrent calls for one key, exactly one succeeds."""

    @abstractmethod
    def put_if_match(
        self, bucket: str, key: str, data: bytes, content_type: str, etag: str
    ) -> bool:
        """Replace the object only if it is still the version ``etag`` (``If-Match``);
        whether it was replaced (``False`` also when there is no object)."""

    @abstractmethod
    def delete(self, bucket: str, key: str) -> None:
        """Remove the object at ``key`` (nothing happens if there is none)."""

    @abstractmethod
    def exists(self, bucket: str, key: str) -> bool:
        """Whether an object exists at ``key``."""

    @abstractmethod
    def list_buckets(self) -> list[str]:
        """Names of all buckets; also serves as a cheap liveness probe."""

    @abstractmethod
    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Keys under ``prefix`` (recursively), sorted."""

    @abstractmethod
    def iter_keys(self, bucket: str, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` (recursively) in key order, fetched a page at a time (a
        prefix of a million objects is never held at once)."""

    @abstractmethod
    def stream(self, bucket: str, key: str, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
        """The object at ``key`` in chunks, read as they are consumed (never whole)."""

    @abstractmethod
    def presigned_get_url(self, bucket: str, key: str, expires: timedelta) -> str:
        """See :class:`Presigner`."""
