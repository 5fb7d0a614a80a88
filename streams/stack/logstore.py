"""The embedded broker's log store: the object store Tansu keeps its log in.

Tansu's durable engine writes every record batch as an object (``…/partitions/<p>/records/
<offset>.batch``), a partition's watermark and every committed offset as small JSON objects
it replaces by compare-and-swap (``If-Match``), and finds the batches to answer a fetch by
*listing* the partition's prefix. Served by rclone (through the conditional-write gate),
that went wrong three ways, all measured: rclone's listings lag its writes by seconds, so a
fetch below the high watermark found no batch and a consumer stalled (the ledger stopped
answering one account after ~500 commands, for minutes); every fetch listed the partition's
whole history from disk, so the idle stack got slower every hour (25,575 objects: rclone at
134 % of a core); and rclone logged an error for every conditional GET answered 304.

This server answers the part of the S3 API Tansu uses — PUT with ``If-None-Match: *`` and
``If-Match``, GET (with ``If-None-Match`` and ``Range``), HEAD, DELETE, ListObjectsV2 (prefix,
delimiter, continuation, ``encoding-type=url``) — from an exact in-memory index of files
under one directory: a listing is read-after-write consistent and never touches the disk.
Writes go to a temporary file and are renamed into place, so a ``kill -9`` leaves the old
object or the new one, never half of one (the operating system keeps both across a process
crash; like Kafka's default, nothing is fsynced).

A janitor keeps the log proportional to the work, not to its history (:class:`Janitor`).

It listens on loopback only and, like the broker's own port, does not check signatures.
Run: ``python -m streams.stack.logstore --port PORT --root DIR`` (the stack does).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import hashlib
import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote
from xml.sax.saxutils import escape

from aiohttp import web

from streams.config.settings import Settings

if TYPE_CHECKING:
    from streams.stack.janitor import Janitor

log = logging.getLogger(__name__)

_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_MAX_KEYS = 1_000_000
"""Keys one listing page holds unless the client asks for fewer. S3 pages at 1,000; Tansu
0.6 never asks for a second page (measured: a partition past 1,000 batches had its newest
ones unseen by every fetch), so a listing here is whole. The janitor keeps it short."""


@dataclass
class Entry:
    """One stored object."""

    size: int
    etag: str
    mtime: float
    listed: dict[bool, str] = field(default_factory=dict, compare=False, repr=False)
    """Its ``<Contents>`` element in a listing (keys URL-encoded or not), made once: the
    broker lists a partition on every fetch, so a listing is mostly joining these."""

    def contents(self, key: str, encode: bool) -> str:
        if (rendered := self.listed.get(encode)) is None:
            shown = escape(quote(key, safe="/") if encode else key)
            modified = datetime.fromtimestamp(self.mtime, UTC).isoformat(timespec="milliseconds")
            rendered = (
                f"<Contents><Key>{shown}</Key>"
                f"<LastModified>{modified.replace('+00:00', 'Z')}</LastModified>"
                f"<ETag>&quot;{self.etag}&quot;</ETag><Size>{self.size}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
            self.listed[encode] = rendered
        return rendered


def _etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _error(status: int, code: str, message: str) -> web.Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


def _no_such_key() -> web.Response:
    return _error(404, "NoSuchKey", "The specified key does not exist.")


def _precondition_failed() -> web.Response:
    return _error(412, "PreconditionFailed", "At least one of the pre-conditions did not hold")


def _unquote(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


class Objects:
    """Files under ``root/<bucket>/<key>`` and their exact index: sorted keys per bucket,
    and sorted names per folder (what the janitor walks, a partition at a time)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: dict[tuple[str, str], Entry] = {}
        self.keys: dict[str, list[str]] = {}
        self.folders: dict[tuple[str, str], list[str]] = {}
        self.staging = root / ".staging"

    def load(self) -> None:
        """Index what is on disk (at start): sizes, times, ETags."""
        self.staging.mkdir(parents=True, exist_ok=True)
        for leftover in self.staging.iterdir():  # a write killed before its rename
            leftover.unlink()
        for bucket_dir in self.root.iterdir():
            if not bucket_dir.is_dir() or bucket_dir == self.staging:
                continue
            bucket = bucket_dir.name
            keys = self.keys.setdefault(bucket, [])
            for path in bucket_dir.rglob("*"):
                if path.is_file():
                    key = path.relative_to(bucket_dir).as_posix()
                    data = path.read_bytes()
                    entry = Entry(len(data), _etag(data), path.stat().st_mtime)
                    self.entries[(bucket, key)] = entry
                    keys.append(key)
                    folder, _, name = key.rpartition("/")
                    self.folders.setdefault((bucket, folder), []).append(name)
            keys.sort()
        for names in self.folders.values():
            names.sort()

    def path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def get(self, bucket: str, key: str) -> Entry | None:
        return self.entries.get((bucket, key))

    def ensure_bucket(self, bucket: str) -> None:
        (self.root / bucket).mkdir(parents=True, exist_ok=True)
        self.keys.setdefault(bucket, [])

    def put(self, bucket: str, key: str, data: bytes) -> Entry:
        target = self.path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = self.staging / uuid.uuid4().hex
        staged.write_bytes(data)
        os.replace(staged, target)
        entry = Entry(len(data), _etag(data), target.stat().st_mtime)
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

    def listed(self, bucket: str, prefix: str, after: str) -> list[str]:
        """Keys of ``bucket`` that start with ``prefix``, after ``after``, in order (lazily
        bounded by the caller)."""
        keys = self.keys.get(bucket, [])
        start = max(bisect.bisect_left(keys, prefix), bisect.bisect_right(keys, after))
        found = []
        for key in keys[start:]:
            if not key.startswith(prefix):
                break
            found.append(key)
        return found


def _remove(ordered: list[str], item: str) -> None:
    index = bisect.bisect_left(ordered, item)
    if index < len(ordered) and ordered[index] == item:
        del ordered[index]


def _checked_key(key: str) -> str | None:
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") for part in parts) or "\x00" in key:
        return None
    return key


class LogStore:
    """The HTTP face of :class:`Objects`."""

    def __init__(self, objects: Objects) -> None:
        self.objects = objects

    async def handle(self, request: web.Request) -> web.StreamResponse:
        bucket, _, key = request.path.lstrip("/").partition("/")
        if not bucket:
            return self._buckets()
        if not key:
            return self._bucket(request, bucket)
        if _checked_key(key) is None:
            return _error(400, "InvalidArgument", "not a plain object key")
        if request.method == "PUT":
            return self._put(request, bucket, key, await request.read())
        if request.method in ("GET", "HEAD"):
            return self._get(request, bucket, key)
        if request.method == "DELETE":
            self.objects.delete(bucket, key)
            return web.Response(status=204)
        return _error(405, "MethodNotAllowed", request.method)

    def _buckets(self) -> web.Response:
        names = "".join(
            f"<Bucket><Name>{escape(name)}</Name><CreationDate>2026-01-01T00:00:00.000Z"
            "</CreationDate></Bucket>"
            for name in sorted(self.objects.keys)
        )
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult xmlns="{_XMLNS}">'
            f"<Owner><ID>cutstream</ID></Owner><Buckets>{names}</Buckets></ListAllMyBucketsResult>"
        )
        return web.Response(text=body, content_type="application/xml")

    def _bucket(self, request: web.Request, bucket: str) -> web.Response:
        if request.method == "PUT":
            self.objects.ensure_bucket(bucket)
            return web.Response(status=200)
        if request.method == "HEAD":
            return web.Response(status=200 if bucket in self.objects.keys else 404)
        if request.method == "GET" and "location" in request.query:
            body = f'<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="{_XMLNS}"/>'
            return web.Response(text=body, content_type="application/xml")
        if request.method == "GET":
            return self._list(request, bucket)
        return _error(405, "MethodNotAllowed", request.method)

    def _put(self, request: web.Request, bucket: str, key: str, data: bytes) -> web.Response:
        current = self.objects.get(bucket, key)
        if_none_match = request.headers.get("If-None-Match")
        if_match = request.headers.get("If-Match")
        if if_none_match is not None and if_none_match.strip() == "*" and current is not None:
            return _precondition_failed()
        if if_match is not None:
            if current is None:
                return _no_such_key()
            if _unquote(if_match) != current.etag:
                return _precondition_failed()
        entry = self.objects.put(bucket, key, data)
        return web.Response(status=200, headers={"ETag": f'"{entry.etag}"'})

    def _get(self, request: web.Request, bucket: str, key: str) -> web.Response:
        entry = self.objects.get(bucket, key)
        if entry is None:
            return _no_such_key()
        headers = {
            "ETag": f'"{entry.etag}"',
            "Last-Modified": format_datetime(datetime.fromtimestamp(entry.mtime, UTC), usegmt=True),
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None and _unquote(if_none_match) == entry.etag:
            return web.Response(status=304, headers=headers)
        if_match = request.headers.get("If-Match")
        if if_match is not None and _unquote(if_match) != entry.etag:
            return _precondition_failed()
        if request.method == "HEAD":
            return web.Response(status=200, headers={**headers, "Content-Length": str(entry.size)})
        try:
            data = self.objects.path(bucket, key).read_bytes()
        except FileNotFoundError:
            return _no_such_key()
        ranged = _range(request.headers.get("Range"), len(data))
        if ranged is None:
            return web.Response(status=200, body=data, headers=headers)
        start, end = ranged
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return web.Response(status=206, body=data[start : end + 1], headers=headers)

    def _list(self, request: web.Request, bucket: str) -> web.Response:
        if bucket not in self.objects.keys:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist.")
        query = request.query
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        max_keys = min(int(query.get("max-keys") or _MAX_KEYS), _MAX_KEYS)
        after = query.get("continuation-token") or query.get("start-after") or ""
        encode = query.get("encoding-type") == "url"
        contents: list[str] = []
        prefixes: list[str] = []
        last = ""
        truncated = False
        for key in self.objects.listed(bucket, prefix, after):
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            if delimiter and delimiter in key[len(prefix) :]:
                common = key[: key.index(delimiter, len(prefix)) + len(delimiter)]
                if not prefixes or prefixes[-1] != common:
                    prefixes.append(common)
                last = key
                continue
            contents.append(key)
            last = key

        def shown(text: str) -> str:
            return escape(quote(text, safe="/") if encode else text)

        parts = [
            f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{_XMLNS}">',
            f"<Name>{escape(bucket)}</Name><Prefix>{shown(prefix)}</Prefix>",
            f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
        ]
        if delimiter:
            parts.append(f"<Delimiter>{shown(delimiter)}</Delimiter>")
        if encode:
            parts.append("<EncodingType>url</EncodingType>")
        entries = self.objects.entries
        parts += [entries[(bucket, key)].contents(key, encode) for key in contents]
        parts += [f"<CommonPrefixes><Prefix>{shown(p)}</Prefix></CommonPrefixes>" for p in prefixes]
        if truncated:
            parts.append(f"<NextContinuationToken>{escape(last)}</NextContinuationToken>")
        parts.append("</ListBucketResult>")
        return web.Response(text="".join(parts), content_type="application/xml")


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a ``Range: bytes=a-b`` header asks for (within ``size``)."""
    match = _RANGE.match(header.strip()) if header else None
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if first == "":
        start = max(0, size - int(last or 0))
        return start, size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end else None


def application(objects: Objects, janitor: Janitor | None = None) -> web.Application:
    store = LogStore(objects)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", store.handle)
    if janitor is not None:

        async def start(_: web.Application) -> None:
            janitor.task = asyncio.create_task(janitor.run())

        async def stop(_: web.Application) -> None:
            if janitor.task is not None:
                janitor.task.cancel()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)
    return app


def main() -> None:
    from streams.stack.janitor import Janitor, Retention

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    objects = Objects(args.root)
    objects.load()
    janitor = Janitor(objects, Retention.of(Settings()))
    web.run_app(
        application(objects, janitor), host=args.host, port=args.port, print=None, access_log=None
    )


if __name__ == "__main__":
    main()
