"""``make bench-isa``: each model's speed on CPUs without this machine's newest instructions.

The default model, u2net in INT8, gains most from VNNI and AMX (integer dot products); a
CPU without them runs its INT8 convolutions on plain AVX-512 or AVX2. Older CPUs are not
at hand, so this measures what this one does with its newer instruction sets turned off:
OpenVINO's kernels come from oneDNN, which reads ``ONEDNN_MAX_CPU_ISA`` and uses nothing
past the named level. It is an emulation — the same cores, caches and clock, only fewer
instructions — so read the ratios between models, not the rates, as what an older CPU
would see.

Each level runs in a process of its own (the variable is read once), the model alone on one
320² input (batch 1, the runtime's own threads), after three untimed runs. Below the native
level precision is f32: bf16 needs AVX512-BF16, which every lower level turns off.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.report import machine, replace_section
from streams.config.settings import Settings
from streams.imaging.build import build_remover

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("u2net-int8", "u2netp", "u2net")
LEVELS = {
    "": "native (AMX, VNNI, BF16)",
    "AVX512_CORE_VNNI": "AVX-512 with VNNI",
    "AVX512_CORE": "AVX-512, no VNNI",
    "AVX2": "AVX2",
}
RUNS = 20


def rates(models: list[str]) -> dict[str, float]:
    """Images/s of each model alone, in this process."""
    remover = build_remover(Settings())
    sample = np.random.default_rng(0).standard_normal((1, 3, 320, 320)).astype(np.float32)
    found = {}
    for model in models:
        segmenter = remover.segmenter(model)
        for _ in range(3):
            segmenter.run(sample)
        started = time.perf_counter()
        for _ in range(RUNS):
            segmenter.run(sample)
        found[model] = RUNS / (time.perf_counter() - started)
    return found


def at_level(level: str) -> dict[str, float]:
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": level}
    if level:
        env["CUTSTREAM_MODELS__PRECISION"] = "f32"
    out = subprocess.run(
        [sys.executable, "-m", "bench.isa", "--child", *MODELS],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, float] = json.loads(out.splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(rates(args.child)))
        return
    rows = []
    for level, label in LEVELS.items():
        found = at_level(level)
        ratio = found["u2net-int8"] / found["u2netp"]
        cells = " | ".join(f"{found[model]:.2f}" for model in MODELS)
        rows.append(f"| {label} | {cells} | {ratio:.2f}× |")
        print(rows[-1])
    lines = [
        f"Machine: {machine()}. The model alone, 320², batch 1, {RUNS} runs after 3 untimed "
        "ones; each level in its own process with `ONEDNN_MAX_CPU_ISA` set (f32 below native). "
        "Command: `make bench-isa`.",
        "",
        "| instructions | " + " | ".join(MODELS) + " | u2net-int8 ÷ u2netp |",
        "|---|" + "---|" * (len(MODELS) + 1),
        *rows,
    ]
    replace_section(args.write, "isa", "\n".join(lines))


if __name__ == "__main__":
    main()
