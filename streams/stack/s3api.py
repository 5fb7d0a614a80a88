"""The S3 API over :class:`~streams.stack.objects.Objects`: what the embedded servers speak.

The part of S3 that cutstream, its users' SDKs (minio, boto3, the AWS CLI) and the Tansu
broker use: buckets (create, head, list, delete, location), objects (PUT with
``If-None-Match: *`` and ``If-Match``, GET and HEAD with ``Range``, ``If-None-Match``,
``If-Match`` and ``response-*`` overrides, DELETE, DeleteObjects), listings (V1 and V2:
prefix, delimiter, pages, ``encoding-type=url``) and multipart uploads. Everything else
is answered ``501 NotImplemented``, never a wrong success.

Every request is handled on one event loop without yielding between a precondition's
check and the rename that commits the write, so conditional writes are atomic and a read
always sees a whole object. Bodies stream to a staging file as they arrive.

ETags: see s3writes.py.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable, Collection, Mapping
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

from aiohttp import web

from streams.stack import multipart
from streams.stack.objects import (
    Objects,
    checked_bucket,
    checked_key,
)
from streams.stack.s3errors import (
    XMLNS,
    S3Error,
    error,
    no_such_bucket,
    no_such_key,
    precondition_failed,
    xml,
)
from streams.stack.s3writes import (
    META,
    declared_etag,
    described,
    receive,
    unquote_etag,
    write_condition,
)
from streams.stack.sigv4 import Request as Signed
from streams.stack.sigv4 import SignatureError, Verifier

log = logging.getLogger(__name__)

S3_PAGE = 1000
"""Keys one listing page holds unless the client asks for fewer, as S3."""

_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
    "response-content-language": "Content-Language",
    "response-cache-control": "Cache-Control",
    "response-expires": "Expires",
}
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


class S3Api:
    """The HTTP face of :class:`Objects`; signatures checked when a ``verifier`` is given
    (the broker's log store, on loopback for the broker alone, has none)."""

    def __init__(
        self, objects: Objects, verifier: Verifier | None = None, page: int = S3_PAGE
    ) -> None:
        self.objects = objects
        self.verifier = verifier
        self.page = page
        self.uploads = multipart.Uploads(objects)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            if self.verifier is not None:
                self._authenticate(request)
            bucket, _, key = request.path.lstrip("/").partition("/")
            if not bucket:
                return self._service(request)
            if not checked_bucket(bucket):
                raise S3Error(400, "InvalidBucketName", "not a bucket name")
            if not key:
                return await self._bucket(request, bucket)
            if not checked_key(key):
                raise S3Error(400, "InvalidArgument", "not a plain object key")
            if not self.objects.has_bucket(bucket):
                return no_such_bucket()
            return await self._object(request, bucket, key)
        except S3Error as exc:
            return error(exc.status, exc.code, str(exc))
        except ConnectionError as exc:  # the client went away mid-body: nothing was written
            log.info("%s %s cut short: %s", request.method, request.path, exc)
            return error(400, "IncompleteBody", str(exc))

    def _authenticate(self, request: web.Request) -> None:
        assert self.verifier is not None
        raw_path, _, raw_query = request.raw_path.partition("?")
        headers = {name.lower(): request.headers.getall(name) for name in request.headers}
        try:
            self.verifier.verify(Signed(request.method, raw_path, raw_query, headers))
        except SignatureError as exc:
            raise S3Error(403, exc.code, str(exc)) from exc

    def _service(self, request: web.Request) -> web.Response:
        if request.method != "GET":
            raise S3Error(405, "MethodNotAllowed", request.method)
        names = "".join(
            f"<Bucket><Name>{escape(name)}</Name><CreationDate>2026-01-01T00:00:00.000Z"
            "</CreationDate></Bucket>"
            for name in sorted(self.objects.keys)
        )
        return xml(
            f'<ListAllMyBucketsResult xmlns="{XMLNS}"><Owner><ID>cutstream</ID></Owner>'
            f"<Buckets>{names}</Buckets></ListAllMyBucketsResult>"
        )

    async def _bucket(self, request: web.Request, bucket: str) -> web.Response:
        method, query = request.method, request.query
        exists = self.objects.has_bucket(bucket)
        if method == "PUT" and not query:
            await request.read()  # a CreateBucketConfiguration, if any: one region here
            self.objects.ensure_bucket(bucket)
            return web.Response(status=200, headers={"Location": f"/{bucket}"})
        if method == "HEAD":
            return web.Response(status=200 if exists else 404)
        if not exists:
            return no_such_bucket()
        if method == "GET" and "location" in query:
            return xml(f'<LocationConstraint xmlns="{XMLNS}"/>')
        if method == "GET" and "uploads" not in query and _plain(query, _LIST_PARAMS):
            return self._list(request, bucket)
        if method == "POST" and "delete" in query:
            return multipart.delete_objects(self.objects, await request.read(), bucket)
        if method == "DELETE" and not query:
            if not self.objects.remove_bucket(bucket):
                raise S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty")
            return web.Response(status=204)
        raise S3Error(501, "NotImplemented", f"{method} on a bucket with {sorted(query)}")

    async def _object(self, request: web.Request, bucket: str, key: str) -> web.StreamResponse:
        method, query = request.method, request.query
        if "uploads" in query or "uploadId" in query:
            return await self.uploads.handle(request, bucket, key)
        if not _plain(query, _OVERRIDES.keys() | {"x-id"}):
            raise S3Error(501, "NotImplemented", f"{method} of an object with {sorted(query)}")
        if method == "PUT":
            if "x-amz-copy-source" in request.headers:
                raise S3Error(501, "NotImplemented", "CopyObject")
            return await self._put(request, bucket, key)
        if method in ("GET", "HEAD"):
            return self._get(request, bucket, key)
        if method == "DELETE":
            self.objects.delete(bucket, key)
            return web.Response(status=204)
        raise S3Error(405, "MethodNotAllowed", method)

    async def _put(self, request: web.Request, bucket: str, key: str) -> web.Response:
        refused = write_condition(request, self.objects.get(bucket, key))
        if refused is not None:
            return refused
        etag = declared_etag(request)
        staged = self.objects.staged()
        try:
            size, md5 = await receive(request, staged, hashed=etag is None)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        # Checked again: another write may have landed while the body arrived.
        refused = write_condition(request, self.objects.get(bucket, key))
        if refused is not None:
            staged.unlink()
            return refused
        entry = self.objects.commit(staged, bucket, key, described(request, etag or md5, size))
        return web.Response(status=200, headers={"ETag": f'"{entry.etag}"'})

    def _get(self, request: web.Request, bucket: str, key: str) -> web.Response:
        entry = self.objects.get(bucket, key)
        if entry is None:
            return no_such_key()
        headers = {
            "ETag": f'"{entry.etag}"',
            "Last-Modified": formatdate(entry.mtime, usegmt=True),
            "Content-Type": entry.content_type,
            "Accept-Ranges": "bytes",
            **{f"{META}{name}": value for name, value in entry.metadata.items()},
        }
        for parameter, header in _OVERRIDES.items():
            if parameter in request.query:
                headers[header] = request.query[parameter]
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None and unquote_etag(if_none_match) == entry.etag:
            return web.Response(status=304, headers=headers)
        if_match = request.headers.get("If-Match")
        if if_match is not None and unquote_etag(if_match) != entry.etag:
            return precondition_failed()
        ranged = _range(request.headers.get("Range"), entry.size)
        if request.method == "HEAD":
            return web.Response(status=200, headers={**headers, "Content-Length": str(entry.size)})
        if request.headers.get("Range") and ranged is None and entry.size > 0:
            raise S3Error(416, "InvalidRange", "The requested range is not satisfiable")
        # Read now, on the loop: the file is the one the entry describes (a write renames a
        # new file into place; it never changes this one).
        data = self.objects.path(bucket, key).read_bytes()
        if ranged is None:
            return web.Response(status=200, body=data, headers=headers)
        start, end = ranged
        headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
        return web.Response(status=206, body=data[start : end + 1], headers=headers)

    def _list(self, request: web.Request, bucket: str) -> web.Response:
        query = request.query
        v2 = query.get("list-type") == "2"
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        try:
            max_keys = min(int(query.get("max-keys") or self.page), self.page)
        except ValueError as exc:
            raise S3Error(400, "InvalidArgument", "max-keys must be a number") from exc
        after = (
            query.get("continuation-token") or query.get("start-after") or ""
            if v2
            else query.get("marker", "")
        )
        encode = query.get("encoding-type") == "url"
        contents: list[str] = []
        prefixes: list[str] = []
        last = ""
        truncated = False
        for key in self.objects.listed(bucket, prefix, after):
            if delimiter and after.endswith(delimiter) and key.startswith(after):
                continue  # the common prefix the previous page ended on
            if delimiter and delimiter in key[len(prefix) :]:
                common = key[: key.index(delimiter, len(prefix)) + len(delimiter)]
                if prefixes and prefixes[-1] == common:
                    continue
                if len(contents) + len(prefixes) >= max_keys:
                    truncated = True
                    break
                prefixes.append(common)
                last = common
            else:
                if len(contents) + len(prefixes) >= max_keys:
                    truncated = True
                    break
                contents.append(key)
                last = key

        def shown(text: str) -> str:
            return escape(quote(text, safe="/") if encode else text)

        parts = [
            f'<ListBucketResult xmlns="{XMLNS}">',
            f"<Name>{escape(bucket)}</Name><Prefix>{shown(prefix)}</Prefix>",
            f"<MaxKeys>{max_keys}</MaxKeys>",
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
        ]
        if v2:
            parts.append(f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>")
        else:
            parts.append(f"<Marker>{shown(after)}</Marker>")
        if delimiter:
            parts.append(f"<Delimiter>{shown(delimiter)}</Delimiter>")
        if encode:
            parts.append("<EncodingType>url</EncodingType>")
        entries = self.objects.entries
        parts += [entries[(bucket, key)].contents(key, encode) for key in contents]
        parts += [f"<CommonPrefixes><Prefix>{shown(p)}</Prefix></CommonPrefixes>" for p in prefixes]
        if truncated:
            token = "NextContinuationToken" if v2 else "NextMarker"
            parts.append(f"<{token}>{escape(last)}</{token}>")
        parts.append("</ListBucketResult>")
        return xml("".join(parts))


_LIST_PARAMS = frozenset(
    {
        "list-type",
        "prefix",
        "delimiter",
        "max-keys",
        "continuation-token",
        "start-after",
        "marker",
        "encoding-type",
        "fetch-owner",
    }
)


def _plain(query: Mapping[str, str], allowed: Collection[str]) -> bool:
    """Whether ``query`` names nothing but ``allowed`` and a presigned URL's parameters
    (no sub-resource S3 has and this server does not)."""
    return all(name in allowed or name.startswith("X-Amz-") for name in query)


def application(api: S3Api) -> web.Application:
    """An aiohttp app serving ``api`` on every path."""
    app = web.Application(client_max_size=4 * 1024 * 1024)  # XML bodies; objects stream
    app.router.add_route("*", "/{tail:.*}", api.handle)
    return app


def serve(
    description: str | None, build: Callable[[Objects], web.Application], attributes: bool = True
) -> None:
    """The command line of a server process: ``--port`` and ``--root`` (and ``--host``);
    load the objects under the root and serve ``build(objects)`` until stopped."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    objects = Objects(args.root, attributes)
    objects.load()
    web.run_app(build(objects), host=args.host, port=args.port, print=None, access_log=None)
