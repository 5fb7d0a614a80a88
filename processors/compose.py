"""Combine an image and its foreground mask into the delivered picture."""

from __future__ import annotations

import numpy as np
from PIL import Image

MASK_LOW = 10
"""Mask values at or below this become fully transparent (saliency noise in the background)."""
MASK_HIGH = 245
"""Mask values at or above this become fully opaque (saliency models rarely reach 255)."""


def refine_mask(mask: Image.Image, low: int = MASK_LOW, high: int = MASK_HIGH) -> Image.Image:
    """Stretch ``[low, high]`` to ``[0, 255]`` and clip: a solid subject, a clean background
    and the soft edge band kept as it was predicted."""
    lut = np.clip((np.arange(256, dtype=np.float32) - low) * 255.0 / (high - low), 0, 255)
    return mask.point(np.rint(lut).astype(np.uint8).tolist())


def cutout(image: Image.Image, mask: Image.Image) -> Image.Image:
    """The RGB ``image`` with the refined ``mask`` as its alpha channel (RGBA)."""
    if image.size != mask.size:
        raise ValueError(f"mask size {mask.size} differs from image size {image.size}")
    rgba = image.convert("RGBA")
    rgba.putalpha(refine_mask(mask))
    return rgba
