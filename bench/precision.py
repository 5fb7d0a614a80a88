"""``make precision``: what bf16 does to each model's masks, against f32, on sod-dev.

The evidence behind ``ModelSpec.bf16_auto`` (the models ``models.precision=auto`` may run
in bf16 where that is faster): per model, the ``balanced`` masks in f32 and in bf16 through
OpenVINO on the same images — their scores against the ground truth, and how far each
image's bf16 mask strays from its own f32 one. Needs a CPU where OpenVINO reports native
bf16; the table goes into docs/quality.md.
"""

from __future__ import annotations

import time

import numpy as np

from bench.metrics import Scores
from bench.quality import cutstream_mask, eval_arguments, eval_set
from bench.report import machine, replace_section
from processors.segmenters import KNOWN_MODELS, Machine, RuntimeOptions
from schemas.options import Quality
from streams.config.settings import Settings
from streams.imaging.build import build_remover

PRECISIONS = ("f32", "bf16")
STRAY_IOU = 0.9  # an image whose mask overlaps its f32 mask less than this has strayed


def masks(model: str, precision: str, inputs: list[bytes]) -> tuple[list[np.ndarray], float]:
    """The balanced masks of ``inputs`` with ``model`` in ``precision``, and images/s."""
    remover = build_remover(Settings(models={"runtime": "openvino", "precision": precision}))
    remover.segmenter(model)  # loaded (and compiled) before the clock starts
    started = time.perf_counter()
    out = [cutstream_mask(remover, data, model, Quality.BALANCED) for data in inputs]
    return out, len(inputs) / (time.perf_counter() - started)


def agreement(reference: list[np.ndarray], other: list[np.ndarray]) -> dict[str, float | int]:
    """Per-image distance of ``other``'s masks from ``reference``'s."""
    differences, ious = [], []
    for a, b in zip(reference, other, strict=True):
        differences.append(np.abs(a.astype(int) - b.astype(int)).mean() / 255)
        union = ((a > 127) | (b > 127)).sum()
        ious.append(((a > 127) & (b > 127)).sum() / union if union else 1.0)
    return {
        "mean": float(np.mean(differences)),
        "p95": float(np.percentile(differences, 95)),
        "median_iou": float(np.median(ious)),
        "strays": int((np.array(ious) < STRAY_IOU).sum()),
    }


def main() -> None:
    args = eval_arguments(__doc__)
    if not Machine.detect(RuntimeOptions()).native_bf16:
        raise SystemExit("OpenVINO reports no native bf16 on this CPU: nothing to compare")
    images, truths = eval_set(args.eval_dir)
    inputs = [path.read_bytes() for path in images]
    lines = [
        "| model | precision | MAE ↓ | max F ↑ | IoU@0.5 ↑ | images/s | mean \\|Δ\\| vs f32 "
        f"| p95 \\|Δ\\| | median IoU vs f32 | images IoU < {STRAY_IOU} | `bf16_auto` |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in args.models:
        made = {p: masks(model, p, inputs) for p in PRECISIONS}
        for precision, (predicted, rate) in made.items():
            scores = Scores()
            for mask, truth in zip(predicted, truths, strict=True):
                scores.add(mask, truth)
            near = agreement(made["f32"][0], predicted)
            spec = KNOWN_MODELS.get(model)
            vouched = "" if spec is None or precision == "f32" else str(spec.bf16_auto).lower()
            lines.append(
                f"| {model} | {precision} | {scores.mae:.4f} | {scores.max_f:.4f} "
                f"| {scores.iou:.4f} | {rate:.2f} | {near['mean']:.4f} | {near['p95']:.4f} "
                f"| {near['median_iou']:.3f} | {near['strays']} | {vouched} |"
            )
            print(lines[-1])
    result = f"Machine: {machine()}. Command: `make precision`.\n\n" + "\n".join(lines)
    replace_section(args.write, "precision", result)


if __name__ == "__main__":
    main()
