"""Objects as files, with an exact in-memory index: the storage of the embedded S3 servers.

``root/<bucket>/<key>`` is one object, so the data directory reads as plain files (and
the layout is rclone's, which the stack used before: an old state directory still
loads). Writes go to a staging file that is renamed into place, so a reader sees the old
object or the new one, never part of each, and a ``kill -9`` leaves one or the other (the
operating system keeps both across a process crash; like Kafka's default, nothing is
fsynced). An object's ETag, content type and user metadata can ride with its file as one
extended attribute, so they survive a restart and the index loads without reading the
objects; without (the broker's log store, whose small log is quicker to read than its
attributes are to write; or a file system without user attributes), the ETag is read
from the object at start (MD5) and the rest is kept in memory only.

The index answers every lookup and listing without touching the disk: read-after-write
consistent, and the cost of a listing is the keys it returns.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

DEFAULT_TYPE = "application/octet-stream"
_ATTRIBUTE = "user.cutstream.s3"


@dataclass
class Entry:
    """One stored object."""

    size: int
    etag: str
    mtime: float
    content_type: str = DEFAULT_TYPE
    metadata: dict[str, str] = field(default_factory=dict)
    """User metadata (``x-amz-meta-*``), names lower-case without the prefix."""
    listed: dict[bool, str] = field(default_factory=dict, compare=False, repr=False)
    """Its ``<Contents>`` element in a listing (keys URL-encoded or not), made once: the
    broker lists a partition on every fetch, so a listing is mostly joining these."""

    def contents(self, key: str, encode: bool) -> str:
        if (rendered := self.listed.get(encode)) is None:
            shown = escape(quote(key, safe="/") if encode else key)
            rendered = (
                f"<Contents><Key>{shown}</Key>"
                f"<LastModified>{iso_time(self.mtime)}</LastModified>"
                f"<ETag>&quot;{self.etag}&quot;</ETag><Size>{self.size}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
            self.listed[encode] = rendered
        return rendered

    def attribute(self) -> bytes:
        return json.dumps(
            {"etag": self.etag, "size": self.size, "type": self.content_type, "meta": self.metadata}
        ).encode()


def iso_time(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def md5_etag(chunks: Iterable[bytes]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def checked_key(key: str) -> bool:
    """Whether ``key`` names a file under its bucket (no empty, ``.`` or ``..`` part)."""
    parts = key.split("/")
    return bool(key) and "\x00" not in key and not any(p in ("", ".", "..") for p in parts)


def checked_bucket(bucket: str) -> bool:
    return bool(bucket) and not bucket.startswith(".") and "/" not in bucket


class Objects:
    """Files under ``root/<bucket>/<key>`` and their exact index: sorted keys per bucket,
    and sorted names per folder (what the broker's janitor walks, a partition at a time).
    Dot-folders of ``root`` are the server's own (staging, multipart uploads)."""

    def __init__(self, root: Path, attributes: bool = True) -> None:
        self.root = root
        self.entries: dict[tuple[str, str], Entry] = {}
        self.keys: dict[str, list[str]] = {}
        self.folders: dict[tuple[str, str], list[str]] = {}
        self.staging = root / ".staging"
        self.attributes = attributes
        """Whether each object's ETag, type and metadata are kept in an extended attribute
        of its file (if the file system has them: probed at load). Without, the ETags are
        read from the objects at load, and types and metadata live in memory only."""

    def load(self) -> None:
        """Index what is on disk (at start)."""
        self.staging.mkdir(parents=True, exist_ok=True)
        for leftover in self.staging.iterdir():  # a write killed before its rename
            leftover.unlink()
        self.attributes = self.attributes and _probe_attributes(self.staging)
        for bucket_dir in self.root.iterdir():
            if not bucket_dir.is_dir() or bucket_dir.name.startswith("."):
                continue
            bucket = bucket_dir.name
            keys = self.keys.setdefault(bucket, [])
            for path in bucket_dir.rglob("*"):
                if path.is_file():
                    key = path.relative_to(bucket_dir).as_posix()
                    self.entries[(bucket, key)] = self._loaded(path)
                    keys.append(key)
                    folder, _, name = key.rpartition("/")
                    self.folders.setdefault((bucket, folder), []).append(name)
            keys.sort()
        for names in self.folders.values():
            names.sort()

    def _loaded(self, path: Path) -> Entry:
        stat = path.stat()
        if self.attributes:
            try:
                saved = json.loads(os.getxattr(path, _ATTRIBUTE))
                if saved["size"] == stat.st_size:
                    return Entry(
                        stat.st_size, saved["etag"], stat.st_mtime, saved["type"], saved["meta"]
                    )
            except (OSError, ValueError, KeyError, TypeError):
                pass  # written by something else (an older stack): read it once
        with path.open("rb") as file:
            etag = md5_etag(iter(lambda: file.read(1 << 20), b""))
        return Entry(stat.st_size, etag, stat.st_mtime)

    def path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def get(self, bucket: str, key: str) -> Entry | None:
        return self.entries.get((bucket, key))

    def has_bucket(self, bucket: str) -> bool:
        return bucket in self.keys

    def ensure_bucket(self, bucket: str) -> None:
        (self.root / bucket).mkdir(parents=True, exist_ok=True)
        self.keys.setdefault(bucket, [])

    def remove_bucket(self, bucket: str) -> bool:
        """Remove an empty bucket; ``False`` if it holds objects."""
        if self.keys.get(bucket):
            return False
        self.keys.pop(bucket, None)
        for folder in sorted((self.root / bucket).rglob("*"), reverse=True):
            folder.rmdir()
        (self.root / bucket).rmdir()
        return True

    def staged(self) -> Path:
        """A fresh staging path for a write (commit it with :meth:`commit`)."""
        return self.staging / uuid.uuid4().hex

    def put(self, bucket: str, key: str, data: bytes, content_type: str = DEFAULT_TYPE) -> Entry:
        """Write ``data`` as ``bucket/key`` directly (its ETag its MD5)."""
        staged = self.staged()
        staged.write_bytes(data)
        entry = Entry(len(data), md5_etag([data]), 0.0, content_type)
        return self.commit(staged, bucket, key, entry)

    def commit(self, staged: Path, bucket: str, key: str, entry: Entry) -> Entry:
        """Rename ``staged`` into place as ``bucket/key`` and index it."""
        if self.attributes:
            os.setxattr(staged, _ATTRIBUTE, entry.attribute())
        target = self.path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        entry.mtime = target.stat().st_mtime
        if (bucket, key) not in self.entries:
            bisect.insort(self.keys.setdefault(bucket, []), key)
            folder, _, name = key.rpartition("/")
            bisect.insort(self.folders.setdefault((bucket, folder), []), name)
        self.entries[(bucket, key)] = entry
        return entry

    def delete(self, bucket: str, key: str) -> None:
        if self.entries.pop((bucket, key), None) is None:
            return
        _remove(self.keys[bucket], key)
        folder, _, name = key.rpartition("/")
        names = self.folders[(bucket, folder)]
        _remove(names, name)
        if not names:
            del self.folders[(bucket, folder)]
        self.path(bucket, key).unlink(missing_ok=True)

    def listed(self, bucket: str, prefix: str, after: str) -> Iterator[str]:
        """Keys of ``bucket`` that start with ``prefix``, after ``after``, in order (lazily:
        the caller stops at its page size)."""
        keys = self.keys.get(bucket, [])
        start = max(bisect.bisect_left(keys, prefix), bisect.bisect_right(keys, after))
        for index in range(start, len(keys)):
            if not keys[index].startswith(prefix):
                return
            yield keys[index]


def _remove(ordered: list[str], item: str) -> None:
    index = bisect.bisect_left(ordered, item)
    if index < len(ordered) and ordered[index] == item:
        del ordered[index]


def _probe_attributes(folder: Path) -> bool:
    probe = folder / "attribute-probe"
    probe.touch()
    try:
        os.setxattr(probe, _ATTRIBUTE, b"{}")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()
