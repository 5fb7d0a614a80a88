"""Encode the composed picture for delivery."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

PNG_COMPRESS_LEVEL = 1
"""zlib level 1: ~4x faster than Pillow's default 6 at catalogue sizes, ~10 % larger."""


def zero_transparent_rgb(image: Image.Image) -> Image.Image:
    """Set RGB to 0 wherever alpha is 0: invisible, but it compresses far better."""
    array = np.array(image)
    array[array[..., 3] == 0, :3] = 0
    return Image.fromarray(array, mode="RGBA")


def encode_png(image: Image.Image) -> bytes:
    """RGBA → PNG bytes (fast zlib level, transparent pixels' RGB zeroed)."""
    buffer = io.BytesIO()
    zero_transparent_rgb(image).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()
