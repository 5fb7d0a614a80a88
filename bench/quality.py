"""``make quality``: mask quality of each model and quality mode on ../shared/eval/sod-dev.

Per model, on the same loaded model:

- each ``quality`` mode (fast, balanced, best) through the shipped path
  (``channels=alpha`` through ``Remover.remove``), with its images/s on these images;
- ``reference`` — the plain U²-Net/rembg recipe (LANCZOS resize, min-max saliency, no
  refinement): the baseline every change is held against (``balanced`` may not be worse).

The images are read at run time and never copied into the repository. The contact sheet
in docs/img/ shows the modes on scikit-image's photographs (the eval images are not ours
to commit); the same sheet for six sod-dev images is written to bench/out/.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as samples_data

from bench.metrics import Scores
from bench.report import machine, replace_section
from processors import Remover
from processors.segmenters import Segmenter
from processors.segmenters.base import to_mask
from schemas.options import Quality, RemovalOptions
from streams.config.settings import Settings
from streams.imaging.build import build_remover

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVAL = ROOT.parent / "shared" / "eval" / "sod-dev"


def reference_mask(segmenter: Segmenter, image: Image.Image) -> np.ndarray:
    """The unmodified published recipe, for comparison."""
    small = image.convert("RGB").resize((320, 320), Image.Resampling.LANCZOS)
    array = np.asarray(small, dtype=np.float64)
    array = array / max(array.max(), 1e-6)
    array = (array - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    tensor = array.transpose(2, 0, 1)[np.newaxis].astype(np.float32)
    prediction = segmenter.run(tensor)[0, 0]
    prediction = (prediction - prediction.min()) / max(prediction.max() - prediction.min(), 1e-6)
    return np.asarray(to_mask(prediction, image.size))


def cutstream_mask(remover: Remover, data: bytes, model: str, quality: Quality) -> np.ndarray:
    result = remover.remove(data, RemovalOptions(model=model, channels="alpha", quality=quality))
    with Image.open(io.BytesIO(result.data)) as mask:
        return np.asarray(mask.convert("L"))


def eval_set(eval_dir: Path) -> tuple[list[Path], list[np.ndarray]]:
    """The eval images (sorted) and their 8-bit ground-truth masks."""
    images = sorted((eval_dir / "images").glob("*.jpg"))
    if not images:
        raise SystemExit(f"no images under {eval_dir / 'images'}")
    truths = [
        np.asarray(Image.open(eval_dir / "gt" / f"{p.stem}.png").convert("L")) for p in images
    ]
    return images, truths


def evaluate(eval_dir: Path, models: list[str]) -> list[tuple[str, str, Scores, float]]:
    remover = build_remover(Settings())
    images, truths = eval_set(eval_dir)
    inputs = [path.read_bytes() for path in images]
    rows = []
    for model in models:
        segmenter = remover.segmenter(model)
        for quality in Quality:
            scores = Scores()
            started = time.perf_counter()
            for encoded, truth in zip(inputs, truths, strict=True):
                scores.add(cutstream_mask(remover, encoded, model, quality), truth)
            rate = len(images) / (time.perf_counter() - started)
            rows.append((model, quality.value, scores, rate))
            print(f"{model} {quality}: MAE {scores.mae:.4f} max F {scores.max_f:.4f}, {rate:.2f}/s")
        reference = Scores()
        started = time.perf_counter()
        for path, truth in zip(images, truths, strict=True):
            with Image.open(path) as image:
                reference.add(reference_mask(segmenter, image), truth)
        rate = len(images) / (time.perf_counter() - started)
        rows.append((model, "reference (rembg recipe)", reference, rate))
    return rows


def contact_sheet(sources: list[Image.Image], model: str, remover: Remover) -> Image.Image:
    """One row per picture: the input, then the cutout of each mode on a checkerboard."""
    cell = 240
    sheet = Image.new("RGB", (cell * (1 + len(Quality)), cell * len(sources)), "white")
    board = Image.new("RGB", (cell, cell), (210, 210, 210))
    for y in range(0, cell, 16):
        for x in range((y // 16) % 2 * 16, cell, 32):
            board.paste((245, 245, 245), (x, y, x + 16, y + 16))
    for row, source in enumerate(sources):
        thumb = source.convert("RGB")
        thumb.thumbnail((cell, cell))
        sheet.paste(thumb, ((cell - thumb.width) // 2, row * cell + (cell - thumb.height) // 2))
        buffer = io.BytesIO()
        source.convert("RGB").save(buffer, "PNG")
        for column, quality in enumerate(Quality, start=1):
            options = RemovalOptions(model=model, quality=quality)
            cutout = Image.open(io.BytesIO(remover.remove(buffer.getvalue(), options).data))
            cutout.thumbnail((cell, cell))
            tile = board.copy()
            tile.paste(cutout, ((cell - cutout.width) // 2, (cell - cutout.height) // 2), cutout)
            sheet.paste(tile, (column * cell, row * cell))
    return sheet


def table(rows: list[tuple[str, str, Scores, float]]) -> str:
    lines = [
        "| model | quality | images | MAE ↓ | max F (β²=0.3) ↑ | IoU@0.5 ↑ | images/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, variant, scores, rate in rows:
        lines.append(
            f"| {model} | {variant} | {scores.count} | {scores.mae:.4f} | {scores.max_f:.4f} "
            f"| {scores.iou:.4f} | {rate:.2f} |"
        )
    return "\n".join(lines)


def eval_arguments(description: str | None) -> argparse.Namespace:
    """The command line of a sod-dev bench: ``--eval-dir``, ``--models``, ``--write``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--models", nargs="+", default=["u2net-int8", "u2netp", "u2net"])
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "quality.md")
    return parser.parse_args()


def main() -> None:
    args = eval_arguments(__doc__)
    rows = evaluate(args.eval_dir, args.models)
    result = f"Machine: {machine()}. Command: `make quality`.\n\n" + table(rows)
    print(result)
    replace_section(args.write, "quality", result)
    remover = build_remover(Settings())
    names = ("astronaut", "chelsea", "coffee", "rocket", "camera", "clock")
    samples = [
        Image.fromarray(np.asarray(getattr(samples_data, name)(), np.uint8)) for name in names
    ]
    contact_sheet(samples, "u2net-int8", remover).save(
        ROOT / "docs" / "img" / "quality-modes.jpg", quality=85
    )
    dev = sorted((args.eval_dir / "images").glob("*.jpg"))[:6]
    local = contact_sheet([Image.open(path) for path in dev], "u2net-int8", remover)
    local.save(ROOT / "bench" / "out" / "quality-modes-sod-dev.png")


if __name__ == "__main__":
    main()
