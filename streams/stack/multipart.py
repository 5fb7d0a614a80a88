"""Multipart uploads and DeleteObjects, for :mod:`streams.stack.s3api`.

SDKs switch to a multipart upload past a size (minio-py at 5 MiB, the AWS CLI at 8 MiB).
Parts are staging files until the upload completes; then they are joined into one staging
file and committed like any PUT (conditions included). An upload in progress lives in
this process only: after a restart its id is unknown (``NoSuchUpload``) and the client
uploads again.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from aiohttp import web
from defusedxml import ElementTree

from streams.stack import s3writes
from streams.stack.objects import Entry, Objects
from streams.stack.s3errors import XMLNS, S3Error, xml

MAX_PART_NUMBER = 10_000
_MAX_XML = 4 * 1024 * 1024


@dataclass
class Part:
    path: Path
    etag: str
    size: int


@dataclass
class Upload:
    bucket: str
    key: str
    entry: Entry
    """The object's type and metadata, given when the upload began."""
    parts: dict[int, Part] = field(default_factory=dict)


def _parse(body: bytes) -> Element:
    if len(body) > _MAX_XML:
        raise S3Error(400, "MalformedXML", "the XML body is too large")
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, ValueError) as exc:  # DefusedXmlException is a ValueError
        raise S3Error(400, "MalformedXML", str(exc)) from exc
    for element in root.iter():  # namespaces are optional in what clients send
        element.tag = element.tag.rpartition("}")[2]
    return root


def _joined(parts: list[Part], staged: Path) -> None:
    with staged.open("wb") as out:
        for part in parts:
            with part.path.open("rb") as source:
                shutil.copyfileobj(source, out, 1 << 20)


class Uploads:
    """The multipart uploads in progress, by id."""

    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self.pending: dict[str, Upload] = {}

    async def handle(self, request: web.Request, bucket: str, key: str) -> web.Response:
        query = request.query
        if request.method == "POST" and "uploads" in query:
            return self._create(request, bucket, key)
        upload = self.pending.get(query.get("uploadId", ""))
        if upload is None or (upload.bucket, upload.key) != (bucket, key):
            raise S3Error(404, "NoSuchUpload", "The specified upload does not exist.")
        if request.method == "PUT" and "partNumber" in query:
            return await self._part(request, upload, query["partNumber"])
        if request.method == "POST":
            return await self._complete(request, upload, query["uploadId"])
        if request.method == "DELETE":
            self._forget(query["uploadId"])
            return web.Response(status=204)
        raise S3Error(501, "NotImplemented", f"{request.method} of a multipart upload")

    def _create(self, request: web.Request, bucket: str, key: str) -> web.Response:
        upload_id = uuid.uuid4().hex
        self.pending[upload_id] = Upload(bucket, key, s3writes.described(request, "", 0))
        return xml(
            f'<InitiateMultipartUploadResult xmlns="{XMLNS}"><Bucket>{escape(bucket)}</Bucket>'
            f"<Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId>"
            "</InitiateMultipartUploadResult>"
        )

    async def _part(self, request: web.Request, upload: Upload, number: str) -> web.Response:
        if not number.isdigit() or not 1 <= int(number) <= MAX_PART_NUMBER:
            raise S3Error(400, "InvalidArgument", "partNumber must be 1 to 10000")
        declared = s3writes.declared_etag(request)
        staged = self.objects.staged()
        try:
            size, md5 = await s3writes.receive(request, staged, hashed=declared is None)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        replaced = upload.parts.pop(int(number), None)
        if replaced is not None:
            replaced.path.unlink(missing_ok=True)
        upload.parts[int(number)] = Part(staged, declared or md5, size)
        return web.Response(status=200, headers={"ETag": f'"{declared or md5}"'})

    async def _complete(self, request: web.Request, upload: Upload, upload_id: str) -> web.Response:
        listed = [
            (int(part.findtext("PartNumber") or 0), (part.findtext("ETag") or "").strip('"'))
            for part in _parse(await request.read()).iter("Part")
        ]
        numbers = [number for number, _ in listed]
        if not listed or numbers != sorted(set(numbers)):
            raise S3Error(400, "InvalidPartOrder", "parts must be listed once each, ascending")
        chosen = []
        for number, etag in listed:
            part = upload.parts.get(number)
            if part is None or part.etag != etag:
                raise S3Error(400, "InvalidPart", f"part {number} was not uploaded as listed")
            chosen.append(part)
        digest = hashlib.md5(usedforsecurity=False)
        for part in chosen:
            digest.update(bytes.fromhex(part.etag))
        etag = f"{digest.hexdigest()}-{len(chosen)}"
        staged = self.objects.staged()
        try:
            await asyncio.to_thread(_joined, chosen, staged)
            refused = s3writes.write_condition(request, self.objects.get(upload.bucket, upload.key))
            if refused is not None:
                return refused
            entry = upload.entry
            entry.etag, entry.size = etag, sum(part.size for part in chosen)
            self.objects.commit(staged, upload.bucket, upload.key, entry)
        finally:
            staged.unlink(missing_ok=True)
        self._forget(upload_id)
        return xml(
            f'<CompleteMultipartUploadResult xmlns="{XMLNS}">'
            f"<Location>/{escape(upload.bucket)}/{escape(upload.key)}</Location>"
            f"<Bucket>{escape(upload.bucket)}</Bucket><Key>{escape(upload.key)}</Key>"
            f"<ETag>&quot;{etag}&quot;</ETag></CompleteMultipartUploadResult>"
        )

    def _forget(self, upload_id: str) -> None:
        upload = self.pending.pop(upload_id, None)
        for part in upload.parts.values() if upload is not None else ():
            part.path.unlink(missing_ok=True)


def delete_objects(objects: Objects, body: bytes, bucket: str) -> web.Response:
    """DeleteObjects: up to 1,000 keys in one request (``aws s3 rm --recursive``)."""
    root = _parse(body)
    keys = [element.findtext("Key") or "" for element in root.iter("Object")]
    if len(keys) > 1000:
        raise S3Error(400, "MalformedXML", "at most 1,000 keys per request")
    quiet = (root.findtext("Quiet") or "").lower() == "true"
    for key in keys:
        objects.delete(bucket, key)
    deleted = "" if quiet else "".join(f"<Deleted><Key>{escape(k)}</Key></Deleted>" for k in keys)
    return xml(f'<DeleteResult xmlns="{XMLNS}">{deleted}</DeleteResult>')
