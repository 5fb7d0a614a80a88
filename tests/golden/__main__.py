"""Rewrite the golden masks from the current code: ``python -m tests.golden``."""

from __future__ import annotations

from PIL import Image

from schemas.options import RemovalOptions
from streams.config.settings import Settings
from streams.imaging.build import build_remover
from tests.golden import golden_path, shrink_alpha
from tests.images import PHOTOS, photo_jpeg

remover = build_remover(Settings())
for name in PHOTOS:
    alpha = shrink_alpha(remover.remove(photo_jpeg(name), RemovalOptions()).data)
    Image.fromarray(alpha, "L").save(golden_path(name), optimize=True)
    print("wrote", golden_path(name))
