"""Pictures for docs/options.md and docs/api.md: three subjects on three marketplace
presets, made by the service's own image core with the default model.

The subjects are scikit-image's sample photographs that ship with a licence we can show
(a cup, CC0; a cat, CC0; an astronaut in her suit, public domain — the apparel-on-a-model
case), enlarged to 1600 px as catalogue photos are (bench/dataset.py). No product
catalogue's photos may be shipped here; the rocket, the other candidate, is mostly smoke.
Each cell is the preset's output scaled down, with a thin grey frame so that the white
canvas's edge shows.

    make canvas-pictures   # writes docs/img/presets.jpg
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bench.dataset import BASES, photos
from processors import Remover
from processors.segmenters import ModelRegistry
from schemas.options import RemovalOptions
from streams.config.settings import ModelSettings
from streams.imaging.build import runtime_options

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "presets.jpg"
SUBJECTS = ("coffee", "chelsea", "astronaut")
PRESETS = ("amazon", "ebay", "google")
CELL = 280
LABEL = 28


def main() -> None:
    settings = ModelSettings()
    remover = Remover(
        ModelRegistry(settings.dir), runtime_options(settings), default_model=settings.default
    )
    by_name = {path.stem: path for path in photos()}
    assert set(SUBJECTS) <= set(BASES)
    font = ImageFont.load_default(size=18)
    sheet = Image.new("RGB", (CELL * len(PRESETS), (CELL + LABEL) * len(SUBJECTS)), "#f4f6f9")
    draw = ImageDraw.Draw(sheet)
    for row, subject in enumerate(SUBJECTS):
        data = by_name[f"{subject}-a"].read_bytes()
        for column, preset in enumerate(PRESETS):
            result = remover.remove(data, RemovalOptions(preset=preset))
            picture = Image.open(io.BytesIO(result.data)).convert("RGB")
            picture.thumbnail((CELL - 20, CELL - 20), Image.Resampling.LANCZOS)
            x = column * CELL + (CELL - picture.width) // 2
            y = row * (CELL + LABEL) + 10
            sheet.paste(picture, (x, y))
            draw.rectangle((x - 1, y - 1, x + picture.width, y + picture.height), outline="#c4cad3")
            label = f"{preset}: {result.width}x{result.height} {result.extension}"
            draw.text((column * CELL + 10, y + picture.height + 4), label, "#1b1f24", font)
    sheet.save(OUT, "JPEG", quality=88)
    print(f"wrote {OUT} (model {settings.default})")


if __name__ == "__main__":
    main()
