"""Turn untrusted bytes into an sRGB image, or fail with a typed error.

Defences, in order: a byte limit; format sniffing by magic bytes (only JPEG, PNG and WebP,
and Pillow is told to try only those decoders); a pixel limit read from the header before
any pixel is decoded; animations refused or reduced to their first frame; full decode with
truncation treated as corruption. Then EXIF orientation, ICC profile to sRGB, and every
mode (CMYK, palette, LA, 16-bit, greyscale…) to RGB plus an optional alpha channel.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from processors.exceptions import (
    AnimatedImageError,
    ImageTooLargeError,
    InvalidImageError,
    ResolutionTooHighError,
)

log = logging.getLogger(__name__)

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class AnimationPolicy(StrEnum):
    REJECT = "reject"
    FIRST_FRAME = "first_frame"


@dataclass(frozen=True)
class DecodeLimits:
    """What an input may be. The defaults suit catalogue photographs."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 50_000_000
    animation: AnimationPolicy = AnimationPolicy.REJECT


@dataclass(frozen=True)
class Decoded:
    """A decoded input: RGB pixels, the input's own alpha if it had any, its format."""

    rgb: Image.Image
    alpha: Image.Image | None
    format: str

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.size


def sniff_format(data: bytes) -> str | None:
    """``JPEG``, ``PNG`` or ``WEBP`` from the magic bytes; ``None`` for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


BYTES_PER_PIXEL = 4
"""What a decoded pixel costs: Pillow keeps RGB and RGBA pictures at four bytes a pixel."""


@dataclass(frozen=True)
class Header:
    """What an image's header says, read without decoding its pixels."""

    format: str
    width: int
    height: int

    @property
    def decoded_bytes(self) -> int:
        """Memory one decoded copy of the picture takes."""
        return self.width * self.height * BYTES_PER_PIXEL


def header(data: bytes, limits: DecodeLimits | None = None) -> Header:
    """Check ``data`` against ``limits`` from its header alone: the same errors as
    :func:`decode`, at the cost of reading a few bytes."""
    limits = limits or DecodeLimits()
    with _opened(data, limits) as (opened, kind):
        return Header(kind, *opened.size)


def decode(data: bytes, limits: DecodeLimits | None = None) -> Decoded:
    """Validate and decode ``data``.

    Raises :class:`InvalidImageError` (empty, unsupported, corrupt or truncated),
    :class:`ImageTooLargeError`, :class:`ResolutionTooHighError` or
    :class:`AnimatedImageError`.
    """
    limits = limits or DecodeLimits()
    with _opened(data, limits) as (opened, kind):
        try:
            opened.load()  # the first frame only
            ImageOps.exif_transpose(opened, in_place=True)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise InvalidImageError(f"the image is corrupt or truncated: {exc}") from exc
        return _to_srgb(opened, kind)


@contextmanager
def _opened(data: bytes, limits: DecodeLimits) -> Iterator[tuple[Image.Image, str]]:
    """The image opened (header read, pixels not decoded) once it passed every limit."""
    if not data:
        raise InvalidImageError("the input is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(
            f"the input has {len(data):,} bytes; the limit is {limits.max_bytes:,}"
        )
    kind = sniff_format(data)
    if kind is None:
        raise InvalidImageError("unsupported image format: JPEG, PNG and WebP are accepted")
    # Pillow's own cap (it refuses past twice this while opening) follows ours, instead of
    # its default 89 MP: a decoder reached some other way cannot blow up either.
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    try:
        with warnings.catch_warnings():
            # Our own pixel check below is the one that answers (with the configured limit).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=[kind])
    except Image.DecompressionBombError:
        raise ResolutionTooHighError(
            f"the image has more than twice the {limits.max_pixels:,} pixels allowed"
        ) from None
    except UnidentifiedImageError:
        raise InvalidImageError(f"the {kind} header is corrupt or unreadable") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImageError(f"the {kind} header is corrupt: {exc}") from exc
    with opened:
        width, height = opened.size
        if width * height > limits.max_pixels:
            raise ResolutionTooHighError(
                f"the image is {width}x{height} ({width * height:,} pixels); "
                f"the limit is {limits.max_pixels:,}"
            )
        frames = int(getattr(opened, "n_frames", 1))
        if frames > 1 and limits.animation is AnimationPolicy.REJECT:
            raise AnimatedImageError(
                f"the {kind} is animated ({frames} frames); send a still image"
            )
        yield opened, kind


def _to_srgb(image: Image.Image, kind: str) -> Decoded:
    """Normalise any mode to RGB (+ alpha), converting ICC-tagged colours to sRGB."""
    icc = image.info.get("icc_profile")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = _sixteen_to_eight(image)
    elif image.mode == "F":
        image = Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), "L")
    alpha: Image.Image | None = None
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        image = image.convert("RGBA" if image.mode.startswith("RGB") else "LA")
        alpha = image.getchannel("A")
        if alpha.getextrema() == (255, 255):
            alpha = None
        image = image.convert("RGB" if image.mode == "RGBA" else "L")
    if icc:
        image = _apply_icc(image, icc)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return Decoded(rgb=image, alpha=alpha, format=kind)


def _sixteen_to_eight(image: Image.Image) -> Image.Image:
    """16-bit greyscale keeps its full range (Pillow's convert would clip at 255)."""
    array = np.asarray(image, dtype=np.uint32)
    return Image.fromarray((array >> 8).clip(0, 255).astype(np.uint8), "L")


def _apply_icc(image: Image.Image, icc: bytes) -> Image.Image:
    """Convert from the embedded profile to sRGB; a broken profile is ignored, not fatal.
    Inputs already tagged sRGB (most camera JPEGs) skip the conversion."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if image.mode == "RGB" and ImageCms.getProfileDescription(source).startswith("sRGB"):
            return image
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.warning("ignoring an unusable ICC profile: %s", exc)
        return image
    assert converted is not None
    return converted


def decode_rgba(data: bytes, limits: DecodeLimits | None = None) -> Image.Image:
    """``data`` decoded (as :func:`decode` does, with its errors) into one RGBA picture:
    a background image, ready to composite."""
    decoded = decode(data, limits)
    picture = decoded.rgb.convert("RGBA")
    if decoded.alpha is not None:
        picture.putalpha(decoded.alpha)
    return picture
