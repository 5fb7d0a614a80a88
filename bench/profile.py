"""``make profile``: where the time goes in the remove path.

One sequential pass over the benchmark set with a timer around each stage of the
pipeline. From it follows the ceiling for the overlapped runner: the model run keeps every
core busy, the other stages use one core each, so at best
``cores / (cores * model + rest)`` images per second.

(A sampling profiler was tried first: py-spy counts threads waiting for the GIL as busy,
which made the progress bar look like 5 % of the CPU when it uses 0.04 s in total. Timers
around the stages give exact numbers.)
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from pathlib import Path

from bench.dataset import photos
from bench.report import machine, replace_section
from processors.compose import compose, foreground_box, subject_alpha
from processors.decode import decode
from processors.encode import encode
from schemas.options import RemovalOptions
from streams.config.settings import Settings
from streams.imaging.build import build_remover

ROOT = Path(__file__).resolve().parents[1]

STAGES = (  # (marker in a py-spy stack, stage) — first match wins, most specific first
    ("Remover.infer", "model run"),
    ("preprocess (processors/segmenters", "model input (resize, normalise)"),
    ("postprocess (processors/segmenters", "mask to full size"),
    ("(processors/decode.py", "decode"),
    ("(processors/encode.py", "encode"),
    ("(processors/compose.py", "alpha, crop, compose"),
    ("_write_atomically", "file write"),
    ("read_bytes", "file read"),
)


def timed_stages(model: str, fmt: str) -> list[tuple[str, float]]:
    remover = build_remover(Settings())
    segmenter = remover.segmenter(model)
    options = RemovalOptions.model_validate({"model": model, "format": fmt})
    totals: dict[str, float] = defaultdict(float)
    paths = photos()
    for path in paths:
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            totals[stage] += now - clock
            clock = now

        data = path.read_bytes()
        lap("file read")
        decoded = decode(data)
        lap("decode")
        tensor = segmenter.preprocess(decoded.rgb)
        lap("model input (resize, normalise)")
        output = segmenter.run(tensor)
        lap("model run")
        mask = segmenter.postprocess(output, decoded.size)
        lap("mask to full size")
        alpha = subject_alpha(mask, decoded.alpha)
        foreground_box(alpha)
        picture = compose(decoded.rgb, alpha, options)
        lap("alpha, crop, compose")
        encode(picture, options.format)
        lap("encode")
    ranked = sorted(totals.items(), key=lambda item: -item[1])
    return [(stage, seconds / len(paths)) for stage, seconds in ranked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="u2netp")
    parser.add_argument("--format", default="png")
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    stages = timed_stages(args.model, args.format)
    total = sum(seconds for _, seconds in stages)
    model = dict(stages)["model run"]
    cores = os.cpu_count() or 1
    ceiling = cores / (cores * model + (total - model))
    lines = [
        f"Machine: {machine()}. {args.model} → {args.format}, {len(photos())} photos of ~1600 px. "
        "Command: `make profile`.",
        "",
        "Sequential pass, timer per stage (ms per image):",
        "",
        "| stage | ms | share |",
        "|---|---|---|",
        *(f"| {stage} | {s * 1000:.1f} | {s / total:.0%} |" for stage, s in stages),
        f"| **total** | **{total * 1000:.1f}** | |",
        "",
        f"Sequential: {1 / total:.2f} images/s. Overlapped ceiling on {cores} cores (the model "
        f"run occupies every core, the rest one core each): {ceiling:.2f} images/s.",
    ]
    print("\n".join(lines))
    replace_section(args.write, "profile", "\n".join(lines))


if __name__ == "__main__":
    main()
