"""Turn untrusted bytes into an RGB image, or fail with a typed error."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from processors.exceptions import InvalidImageError


def decode(data: bytes) -> Image.Image:
    """Decode ``data`` fully, apply EXIF orientation and return an RGB image.

    Raises :class:`InvalidImageError` for empty, unknown, corrupt or truncated input.
    """
    if not data:
        raise InvalidImageError("the input is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
            return image.convert("RGB")
    except UnidentifiedImageError as exc:
        raise InvalidImageError("the input is not a recognised image format") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImageError(f"the image is corrupt or truncated: {exc}") from exc
