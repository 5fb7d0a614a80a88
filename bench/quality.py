"""``make quality``: mask quality of each model on ../shared/eval/sod-dev.

Scores two variants per model on the same ONNX session:

- ``cutstream`` — the shipped path (``channels=alpha`` through ``Remover.remove``:
  decode, resize with a reducing gap, mask refinement).
- ``reference`` — the plain U²-Net/rembg recipe (LANCZOS resize, min-max saliency, no
  refinement): the baseline every speed change is held against (MAE may not rise by more
  than 0.005).

The images are read at run time and never copied into the repository.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.metrics import Scores
from bench.report import replace_section
from processors import Remover
from processors.segmenters import Segmenter
from processors.segmenters.base import to_mask
from schemas.options import RemovalOptions
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


def cutstream_mask(remover: Remover, data: bytes, model: str) -> np.ndarray:
    result = remover.remove(data, RemovalOptions(model=model, channels="alpha"))
    with Image.open(io.BytesIO(result.data)) as mask:
        return np.asarray(mask.convert("L"))


def evaluate(eval_dir: Path, models: list[str]) -> list[tuple[str, str, Scores, float]]:
    remover = build_remover(Settings())
    images = sorted((eval_dir / "images").glob("*.jpg"))
    if not images:
        raise SystemExit(f"no images under {eval_dir / 'images'}")
    rows = []
    for model in models:
        segmenter = remover.segmenter(model)
        shipped, reference = Scores(), Scores()
        started = time.perf_counter()
        for path in images:
            truth = np.asarray(Image.open(eval_dir / "gt" / f"{path.stem}.png").convert("L"))
            data = path.read_bytes()
            shipped.add(cutstream_mask(remover, data, model), truth)
            with Image.open(path) as image:
                reference.add(reference_mask(segmenter, image), truth)
        elapsed = time.perf_counter() - started
        rows.append((model, "cutstream", shipped, elapsed))
        rows.append((model, "reference (rembg recipe)", reference, elapsed))
        print(f"{model}: {len(images)} images in {elapsed:.0f} s")
    return rows


def table(rows: list[tuple[str, str, Scores, float]]) -> str:
    lines = [
        "| model | variant | images | MAE ↓ | max F (β²=0.3) ↑ | IoU@0.5 ↑ |",
        "|---|---|---|---|---|---|",
    ]
    for model, variant, scores, _ in rows:
        lines.append(
            f"| {model} | {variant} | {scores.count} | {scores.mae:.4f} | {scores.max_f:.4f} "
            f"| {scores.iou:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--models", nargs="+", default=["u2netp", "u2net"])
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "quality.md")
    args = parser.parse_args()
    rows = evaluate(args.eval_dir, args.models)
    result = table(rows)
    print(result)
    replace_section(args.write, "quality", result)


if __name__ == "__main__":
    main()
