"""Golden masks: the u2netp alpha of each test photograph, downscaled to 128 px.

Compared with a tolerance (mean absolute difference and IoU), never byte for byte.
Regenerate after an intended change of the mask path with
``python -m tests.golden`` and review the images before committing them.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

GOLDEN_DIR = Path(__file__).parent
GOLDEN_SIDE = 128


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.u2netp.alpha.png"


def shrink_alpha(png: bytes) -> np.ndarray:
    """The alpha of an RGBA PNG, box-downscaled so its longest side is 128 px."""
    with Image.open(io.BytesIO(png)) as image:
        alpha = image.getchannel("A")
        scale = GOLDEN_SIDE / max(alpha.size)
        size = (max(1, round(alpha.width * scale)), max(1, round(alpha.height * scale)))
        return np.asarray(alpha.resize(size, Image.Resampling.BOX))
