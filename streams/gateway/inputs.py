"""What a request brings as its image, checked before anything is stored or published.

An upload or inline image must be at most ``limits.max_input_bytes`` and start with the
magic bytes of JPEG, PNG or WebP; a URL must pass the URL guard (it is fetched later by a
worker, which checks it again). Request bodies as a whole are capped while they are read
(:mod:`streams.gateway.limits`), so nothing past the limit is ever buffered.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from starlette.datastructures import UploadFile

from processors.decode import sniff_format
from schemas.api.native import ObjectRef
from schemas.errors import ErrorCode
from streams.gateway.errors import ApiError
from streams.net.urlguard import UrlNotAllowedError, UrlPolicy, UrlUnresolvableError, resolve

_DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+/-]+)?(?P<params>(;[\w-]+=[\w.+-]+)*)(?P<b64>;base64)?,"
)


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str


@dataclass(frozen=True)
class RemoteImage:
    url: str


ImageSource = Upload | RemoteImage | ObjectRef


def missing_image(what: str = "an image") -> ApiError:
    return ApiError(400, "missing_image", f"no image given: send {what}")


def checked_upload(data: bytes, filename: str, max_bytes: int) -> Upload:
    """``data`` if it is a plausible image within the size limit."""
    if not data:
        raise ApiError(400, "missing_image", "the image is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ApiError(
            413, "image_too_large", f"the image has {len(data):,} bytes; the limit is {max_bytes:,}"
        )
    if sniff_format(data) is None:
        raise ApiError(
            400, "invalid_image_format", "unsupported image format: JPEG, PNG and WebP are accepted"
        )
    return Upload(data, _safe_name(filename))


async def read_upload(upload: UploadFile, max_bytes: int) -> Upload:
    """An uploaded file, checked like any other image (the body cap bounds the read)."""
    return checked_upload(await upload.read(), upload.filename or "image", max_bytes)


def decode_inline(text: str, max_bytes: int) -> Upload:
    """A data URI or plain base64 image."""
    payload = text.strip()
    if payload.startswith("data:"):
        match = _DATA_URI.match(payload)
        if match is None or not match.group("b64"):
            raise ApiError(
                400, "invalid_request", "a data URI must be base64: data:image/png;base64,..."
            )
        payload = payload[match.end() :]
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise ApiError(413, "image_too_large", f"the image is larger than {max_bytes:,} bytes")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_request", "the inline image is not valid base64") from None
    return checked_upload(data, "inline", max_bytes)


async def _checked(url: str, policy: UrlPolicy, what: str, unresolvable: ErrorCode) -> None:
    """A clear 400 unless the guard lets ``url`` through: ``url_not_allowed`` for what is
    refused, ``unresolvable`` for a host that does not resolve (it is not a refusal)."""
    try:
        await resolve(url, policy)
    except UrlNotAllowedError as exc:
        raise ApiError(400, ErrorCode.URL_NOT_ALLOWED, f"{what}: {exc.message}") from None
    except UrlUnresolvableError as exc:
        raise ApiError(400, unresolvable, f"{what}: {exc.message}") from None


async def checked_url(url: str, policy: UrlPolicy) -> RemoteImage:
    """An image URL the guard lets through (``input_fetch_failed`` if its host does not
    resolve)."""
    await _checked(url, policy, "image URL", ErrorCode.INPUT_FETCH_FAILED)
    return RemoteImage(url)


async def checked_webhook(url: str | None, policy: UrlPolicy) -> str | None:
    """A webhook URL the guard lets through (``invalid_request`` if its host does not
    resolve), or ``None``."""
    if url is not None:
        await _checked(url, policy, "webhook URL", ErrorCode.INVALID_REQUEST)
    return url


def _safe_name(filename: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", filename.rsplit("/", 1)[-1])[:100].strip("._")
    return name or "image"
