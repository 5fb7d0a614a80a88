"""A dict-backed object store with the same contract, for unit tests and dry runs."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from streams.exceptions import ObjectNotFoundError
from streams.storage.base import ObjectStore


class MemoryObjectStore(ObjectStore):
    """A dict-backed store with the same contract, for unit tests and dry runs."""

    def __init__(self) -> None:
        self._buckets: dict[str, dict[str, tuple[bytes, str]]] = {}
        self._lock = threading.Lock()

    def _bucket(self, bucket: str) -> dict[str, tuple[bytes, str]]:
        try:
            return self._buckets[bucket]
        except KeyError:
            raise ObjectNotFoundError(f"bucket {bucket} does not exist") from None

    def ensure_bucket(self, bucket: str) -> None:
        with self._lock:
            self._buckets.setdefault(bucket, {})

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        with self._lock:
            self._bucket(bucket)[key] = (bytes(data), content_type)

    def put_file(self, bucket: str, key: str, path: Path, content_type: str) -> None:
        self.put(bucket, key, path.read_bytes(), content_type)

    def get(self, bucket: str, key: str) -> bytes:
        return self.get_with_etag(bucket, key)[0]

    def get_with_etag(self, bucket: str, key: str) -> tuple[bytes, str]:
        with self._lock:
            try:
                data = self._buckets[bucket][key][0]
            except KeyError:
                raise ObjectNotFoundError.at(bucket, key) from None
        return data, _etag(data)

    def put_if_absent(self, bucket: str, key: str, data: bytes, content_type: str) -> bool:
        with self._lock:
            objects = self._bucket(bucket)
            if key in objects:
                return False
            objects[key] = (bytes(data), content_type)
            return True

    def put_if_match(
        self, bucket: str, key: str, data: bytes, content_type: str, etag: str
    ) -> bool:
        with self._lock:
            objects = self._bucket(bucket)
            if key not in objects or _etag(objects[key][0]) != etag:
                return False
            objects[key] = (bytes(data), content_type)
            return True

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            self._bucket(bucket).pop(key, None)

    def exists(self, bucket: str, key: str) -> bool:
        with self._lock:
            return key in self._buckets.get(bucket, {})

    def list_buckets(self) -> list[str]:
        with self._lock:
            return sorted(self._buckets)

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(key for key in self._bucket(bucket) if key.startswith(prefix))

    def iter_keys(self, bucket: str, prefix: str = "") -> Iterator[str]:
        yield from self.list_keys(bucket, prefix)

    def stream(self, bucket: str, key: str, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
        data = self.get(bucket, key)
        for start in range(0, len(data), chunk_bytes):
            yield data[start : start + chunk_bytes]

    def presigned_get_url(self, bucket: str, key: str, expires: timedelta) -> str:
        """A ``memory://`` URL naming the object (nothing can fetch it)."""
        seconds = int(expires.total_seconds())
        return f"memory://{quote(bucket)}/{quote(key)}?expires_in={seconds}"


def _etag(data: bytes) -> str:
    """The ETag S3 gives a single-part object: its MD5, in hex."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
