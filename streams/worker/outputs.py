"""Where each output of a request goes, and the background images it composites onto.

A request's outputs are its output specs (:meth:`ImageRequest.specs`). One naming a
``key`` (a template) goes there, in its ``bucket`` or the first's; the first otherwise
goes to the default ``<account>/<request_id>.<ext>``, and any other beside the first
(:func:`~streams.storage.layout.rendition_key`). Every place is checked by the
write rule, and all are deterministic, so a redelivered request overwrites the same
objects and leaves no extras.
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
from collections.abc import Awaitable, Callable
from urllib.parse import unquote, urlsplit

from cachetools import LRUCache
from PIL import Image
from pydantic import ValidationError

from processors.decode import DecodeLimits, Header, decode_rgba, header
from processors.exceptions import UnusableOptionsError
from schemas.errors import CutstreamError
from schemas.events import ImageRequested
from schemas.refs import ImageRefValue, S3Object, UploadRef, UrlInput
from schemas.renditions import OutputSpec
from streams.storage.access import WriteAccess
from streams.storage.layout import output_key, rendition_key


def input_stem(source: S3Object | UrlInput) -> str:
    """The input's file name without its extension (``image`` when it has none)."""
    path = source.key if isinstance(source, S3Object) else unquote(urlsplit(str(source.url)).path)
    name = posixpath.basename(path)
    return name.rpartition(".")[0] or name or "image"


def places(
    request: ImageRequested, specs: list[OutputSpec], default_bucket: str, writes: WriteAccess
) -> list[S3Object]:
    """Where each output goes, checked by ``writes``
    (:class:`~streams.storage.access.OutputNotAllowedError`); an unusable key template
    (a bad key once filled in, two outputs in one place) is an
    :class:`~processors.exceptions.UnusableOptionsError`."""
    payload = request.payload
    item = payload.batch
    common = {
        "request_id": request.request_id,
        "account": request.account,
        "stem": input_stem(payload.input),
        "batch_id": item.batch_id if item else "",
        "item_id": item.item_id if item else "",
        "item_index": str(item.index) if item else "",
    }
    found: list[S3Object] = []
    for index, spec in enumerate(specs):
        extension = spec.options.format.extension
        if spec.key is not None:
            bucket = spec.bucket or (found[0].bucket if found else default_bucket)
            size = spec.options.size.value
            values = common | {"ext": extension, "index": str(index), "size": size}
            place = _place(bucket, spec.key.format_map(values), index)
        elif index == 0:
            key = output_key(request.account, request.request_id, extension)
            place = S3Object(bucket=spec.bucket or default_bucket, key=key)
        else:
            first = found[0]
            place = _place(
                spec.bucket or first.bucket, rendition_key(first.key, index, extension), index
            )
        if place in found:
            raise UnusableOptionsError(
                f"outputs[{index}] would overwrite outputs[{found.index(place)}] "
                f"(s3://{place.bucket}/{place.key})"
            )
        writes.check(request.account, place.bucket, place.key)
        found.append(place)
    return found


def _place(bucket: str, key: str, index: int) -> S3Object:
    try:
        return S3Object(bucket=bucket, key=key)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"]
        shown = key[:200]
        raise UnusableOptionsError(f"outputs[{index}]: {shown!r} is no key: {message}") from None


Fetch = Callable[[str, S3Object | UrlInput], Awaitable[bytes]]
"""(account, reference) → the bytes, through the same checks as inputs."""

_DECODE_PEAK = 2
"""Decoding a backdrop holds its RGB picture and its RGBA copy at once: about twice the
RGBA size (3 + 4 bytes a pixel)."""


class RequestBackdrops:
    """The background images of one request: fetched and checked once per distinct
    reference, their decoding's memory known before any is decoded."""

    def __init__(
        self, owner: Backdrops, digests: dict[S3Object | UrlInput, str], data: dict[str, bytes]
    ):
        self._owner = owner
        self._digests = digests
        self._data = data

    @property
    def decoded_bytes(self) -> int:
        """What decoding the ones not in the cache holds at its peak (reserve it from the
        worker's budget before :meth:`decode`)."""
        return sum(
            _DECODE_PEAK * self._owner.header(data).decoded_bytes
            for digest, data in self._data.items()
            if digest not in self._owner.cache
        )

    async def decode(self) -> dict[ImageRefValue, Image.Image]:
        """Each background image by its reference, decoded once per distinct image (or
        taken from the cache)."""
        images = {
            digest: await self._owner.decoded(digest, data) for digest, data in self._data.items()
        }
        return {ref: images[digest] for ref, digest in self._digests.items()}


class Backdrops:
    """Background images, decoded once per worker: cached by the SHA-256 of their bytes
    (least recently used out first, up to ``max_bytes`` of pixels), so a batch with one
    backdrop decodes it once — and a changed object at the same key is never stale. A
    backdrop too large for the cache is still decoded only once per request."""

    def __init__(self, fetch: Fetch, limits: DecodeLimits, max_bytes: int) -> None:
        self.fetch = fetch
        self.limits = limits
        self.cache: LRUCache[str, Image.Image] = LRUCache(
            maxsize=max(1, max_bytes), getsizeof=lambda image: image.width * image.height * 4
        )

    def header(self, data: bytes) -> Header:
        return header(data, self.limits)

    async def fetched(self, account: str, specs: list[OutputSpec]) -> RequestBackdrops:
        """Fetch and check (the input limits, from the header) every distinct ``bg_image``
        of ``specs``; errors are the input errors, with ``bg_image`` in their message."""
        digests: dict[S3Object | UrlInput, str] = {}
        data: dict[str, bytes] = {}
        try:
            for spec in specs:
                ref = spec.options.bg_image
                if isinstance(ref, UploadRef):  # the gateway stores uploads before queueing
                    raise UnusableOptionsError("bg_image: an upload cannot be read here")
                if ref is None or ref in digests:
                    continue
                body = await self.fetch(account, ref)
                self.header(body)
                digests[ref] = digest = hashlib.sha256(body).hexdigest()
                data[digest] = body
        except CutstreamError as exc:
            exc.message = f"bg_image: {exc.message}"
            raise
        return RequestBackdrops(self, digests, data)

    async def decoded(self, digest: str, data: bytes) -> Image.Image:
        """The RGBA picture of ``data`` (whose SHA-256 is ``digest``), from the cache or
        decoded now (and kept if it fits)."""
        if (image := self.cache.get(digest)) is None:
            try:
                image = await asyncio.to_thread(decode_rgba, data, self.limits)
            except CutstreamError as exc:
                exc.message = f"bg_image: {exc.message}"
                raise
            if image.width * image.height * 4 <= self.cache.maxsize:
                self.cache[digest] = image
        return image
