"""``make crossval``: the ``best`` quality's curve chosen by 5-fold cross-validation on
sod-dev, and its out-of-fold scores — numbers no image helped choose.

``best`` averages the model's output on the image and on its mirror image, then maps the
softer average through a logistic curve (centre, gain; processors/compose.py). For each
model the mirror-averaged masks are computed once; every (centre, gain) of the grid is
scored on them. Folds: the sorted images, image i in fold i mod 5. For each fold the
curve with the lowest MAE on the other four is applied to it; the out-of-fold (OOF) MAE
and max F pool those held-out predictions. The table also shows the shipped curve's
in-sample scores (it was tuned on all of sod-dev), for comparison.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.metrics import Scores
from bench.quality import DEFAULT_EVAL, eval_set
from bench.report import machine, replace_section
from processors.compose import CONTRAST_CENTRE, CONTRAST_GAIN, _logistic_lut
from schemas.options import Quality, RemovalOptions
from streams.config.settings import Settings
from streams.imaging.build import build_remover

ROOT = Path(__file__).resolve().parents[1]
FOLDS = 5
CENTRES = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
GAINS = (6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0)  # steeper is a threshold: jagged edges
Curve = tuple[float, float]
Masks = list[npt.NDArray[np.uint8]]


def averaged_masks(model: str, eval_dir: Path) -> tuple[Masks, Masks]:
    """Each image's mirror-averaged mask at full size (before the curve), and its truth."""
    remover = build_remover(Settings())
    images, truths = eval_set(eval_dir)
    options = RemovalOptions(model=model, quality=Quality.BEST)
    masks = []
    for path in images:
        prepared = remover.prepare(path.read_bytes(), options)
        output = remover.infer(prepared)
        mask = prepared.segmenter.postprocess(output, prepared.decoded.size)
        masks.append(np.asarray(mask))
    return masks, truths


def mae_table(masks: Masks, truths: Masks, curves: list[Curve]) -> npt.NDArray[np.float64]:
    """MAE of every image (rows) under every curve (columns), from per-value counts."""
    luts = np.stack([_logistic_lut(*curve) for curve in curves]).astype(np.float64) / 255
    table = np.empty((len(masks), len(curves)))
    for row, (mask, truth) in enumerate(zip(masks, truths, strict=True)):
        subject = truth > 127
        on = np.bincount(mask[subject], minlength=256)
        off = np.bincount(mask[~subject], minlength=256)
        table[row] = ((1 - luts) @ on + luts @ off) / mask.size
    return table


def scores(masks: Masks, truths: Masks, curve_of: list[Curve]) -> Scores:
    result = Scores()
    for mask, truth, curve in zip(masks, truths, curve_of, strict=True):
        result.add(_logistic_lut(*curve)[mask], truth)
    return result


def cross_validate(model: str, eval_dir: Path) -> tuple[str, Curve]:
    masks, truths = averaged_masks(model, eval_dir)
    curves = list(itertools.product(CENTRES, GAINS))
    table = mae_table(masks, truths, curves)
    fold = np.arange(len(masks)) % FOLDS
    chosen: list[Curve] = []
    curve_of: list[Curve] = [curves[0]] * len(masks)
    for k in range(FOLDS):
        best = curves[int(np.argmin(table[fold != k].mean(axis=0)))]
        chosen.append(best)
        for index in np.flatnonzero(fold == k):
            curve_of[index] = best
    out_of_fold = scores(masks, truths, curve_of)
    refit = curves[int(np.argmin(table.mean(axis=0)))]
    shipped = scores(masks, truths, [(CONTRAST_CENTRE, CONTRAST_GAIN)] * len(masks))
    folds = ", ".join(f"{c:g}/{g:g}" for c, g in chosen)
    row = (
        f"| {model} | {out_of_fold.mae:.4f} | {out_of_fold.max_f:.4f} | {out_of_fold.iou:.4f} "
        f"| {folds} | {refit[0]:g}/{refit[1]:g} | {shipped.mae:.4f} |"
    )
    print(row)
    return row, refit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--models", nargs="+", default=["u2net-int8", "u2netp", "u2net"])
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "quality.md")
    args = parser.parse_args()
    rows = [cross_validate(model, args.eval_dir)[0] for model in args.models]
    lines = [
        f"Machine: {machine()}. {FOLDS}-fold cross-validation on sod-dev (150 images, image i "
        f"in fold i mod {FOLDS}); grid: centre {', '.join(f'{c:g}' for c in CENTRES)} × gain "
        f"{', '.join(f'{g:g}' for g in GAINS)}. Command: `make crossval`.",
        "",
        "| model | `best` OOF MAE ↓ | OOF max F ↑ | OOF IoU@0.5 ↑ | curve chosen per fold "
        "(centre/gain) | chosen on all 150 | shipped curve "
        f"({CONTRAST_CENTRE:g}/{CONTRAST_GAIN:g}), in-sample MAE |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    print("\n".join(lines))
    replace_section(args.write, "crossval", "\n".join(lines))


if __name__ == "__main__":
    main()
