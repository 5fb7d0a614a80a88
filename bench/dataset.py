"""The fixed benchmark set: 24 photographs of about 1600 px, generated from skimage.data.

Eight real photographs, each upscaled (LANCZOS) so its longest side is 1600 px, in three
variants (as is, mirrored, a centre crop) and saved as JPEG q90. Deterministic; written
under bench/out/photos (ignored by git) on first use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from skimage import data

OUT = Path(__file__).resolve().parent / "out" / "photos"
BASES = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "camera",
    "clock",
    "coins",
    "hubble_deep_field",
)
SIDE = 1600


def _upscale(image: Image.Image) -> Image.Image:
    scale = SIDE / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def photos() -> list[Path]:
    """Paths of the benchmark photographs, generating them if needed."""
    OUT.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in BASES:
        base = Image.fromarray(np.asarray(getattr(data, name)(), dtype=np.uint8)).convert("RGB")
        width, height = base.size
        variants = {
            "a": base,
            "b": ImageOps.mirror(base),
            "c": base.crop((width // 10, height // 10, width - width // 10, height - height // 10)),
        }
        for suffix, variant in variants.items():
            path = OUT / f"{name}-{suffix}.jpg"
            if not path.exists():
                _upscale(variant).save(path, "JPEG", quality=90)
            paths.append(path)
    return paths
