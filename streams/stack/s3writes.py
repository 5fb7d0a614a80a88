"""Writing an object's body, for PUTs and multipart parts: conditions, ETags, metadata,
and bodies streamed to a staging file (``aws-chunked`` ones decoded on the way).

An object's ETag is the first 32 hex digits of the body's SHA-256 as the client signed it
(``x-amz-content-sha256``), or the body's MD5 where the client signed no hash (presigned
or unsigned uploads): S3 calls ETags opaque, and hashing every upload again would cost as
much CPU as the rest of the request.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from aiohttp import web

from streams.stack.objects import DEFAULT_TYPE, Entry, md5_etag
from streams.stack.s3errors import S3Error, no_such_key, precondition_failed

_HASH = re.compile(r"^[0-9a-f]{64}$")
META = "x-amz-meta-"


def unquote_etag(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


def write_condition(request: web.Request, current: Entry | None) -> web.Response | None:
    """The answer a conditional write gets when its condition fails, else ``None``."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() == "*" and current is not None:
        return precondition_failed()
    if_match = request.headers.get("If-Match")
    if if_match is not None:
        if current is None:
            return no_such_key()
        if unquote_etag(if_match) != current.etag:
            return precondition_failed()
    return None


def declared_etag(request: web.Request) -> str | None:
    """The ETag of the body the client signed a hash of, or ``None`` if it signed none."""
    declared = request.headers.get("x-amz-content-sha256", "")
    return declared[:32] if _HASH.match(declared) else None


def described(request: web.Request, etag: str, size: int) -> Entry:
    """A new object's entry: its ETag and size, and the type and metadata sent with it."""
    metadata = {
        name[len(META) :].lower(): value
        for name, value in request.headers.items()
        if name.lower().startswith(META)
    }
    content_type = request.headers.get("Content-Type") or DEFAULT_TYPE
    return Entry(size, etag, 0.0, content_type, metadata)


WHOLE_BODY = 1 << 20
"""Bodies of a declared length up to this are read whole and written in one call (the
broker's records and watermarks, job records); larger ones stream to disk as they come."""


async def receive(request: web.Request, staged: Path, hashed: bool) -> tuple[int, str]:
    """Write the body into ``staged``; its size, and its MD5 if ``hashed``."""
    decoder = AwsChunked() if is_aws_chunked(request) else None
    length = request.content_length
    if decoder is None and length is not None and length <= WHOLE_BODY:
        data = await request.read()
        with staged.open("wb") as file:  # on the loop, as every file operation here
            file.write(data)
        return len(data), md5_etag([data]) if hashed else ""
    digest = hashlib.md5(usedforsecurity=False) if hashed else None
    size = 0
    with staged.open("wb") as file:
        async for chunk in request.content.iter_any():
            data = decoder.feed(chunk) if decoder is not None else chunk
            file.write(data)
            size += len(data)
            if digest is not None:
                digest.update(data)
    return size, digest.hexdigest() if digest is not None else ""


def is_aws_chunked(request: web.Request) -> bool:
    encoding = request.headers.get("Content-Encoding", "")
    declared = request.headers.get("x-amz-content-sha256", "")
    return "aws-chunked" in encoding or declared.startswith("STREAMING-")


class AwsChunked:
    """Decodes an ``aws-chunked`` body as it arrives: ``<hex size>[;ext]\\r\\n<data>\\r\\n``
    … a zero-size chunk, then trailers (checksums, which are not checked here, as the
    payload hash is not: see sigv4.py)."""

    def __init__(self) -> None:
        self.buffer = b""
        self.remaining = 0
        self.after_data = False
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        out: list[bytes] = []
        while not self.done:
            if self.remaining:
                taken = self.buffer[: self.remaining]
                out.append(taken)
                self.remaining -= len(taken)
                self.buffer = self.buffer[len(taken) :]
                if self.remaining:
                    break
                self.after_data = True
            if self.after_data:
                if len(self.buffer) < 2:
                    break
                self.buffer = self.buffer[2:]
                self.after_data = False
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            header, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            try:
                size = int(header.split(b";", 1)[0], 16)
            except ValueError as exc:
                raise S3Error(400, "IncompleteBody", "not an aws-chunked body") from exc
            self.remaining = size
            self.done = size == 0
        if self.done:
            self.buffer = b""
        return b"".join(out)
