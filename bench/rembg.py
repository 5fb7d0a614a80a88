"""``make bench-rembg``: rembg 2.0.86 vs ``cutstream remove``, same images, same weights.

rembg is installed into its own virtual environment (bench/out/rembg-venv, by the
Makefile) so that its dependency pins never touch ours; it is given our verified
u2netp.onnx and u2net.onnx (the same weights it would download). Each command is timed
end to end (start-up included) on the benchmark set, writing PNGs into an empty folder
(``rembg p`` skips outputs that exist): one untimed warm-up run of every command, then
``--runs`` timed runs of each, interleaved, and the median kept. Same model on both
sides (``-m u2netp``, ``-m u2net``), plus cutstream's default model (u2net-int8).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.dataset import photos
from bench.report import machine, replace_section
from streams.config.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def size_of(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rembg", type=Path, required=True, help="the rembg executable")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    sources = photos()
    folder = sources[0].parent
    cutstream = str(Path(sys.executable).parent / "cutstream")
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "u2net"
        home.mkdir()
        for model in ("u2netp", "u2net"):
            shutil.copy(Settings().models.dir / f"{model}.onnx", home / f"{model}.onnx")
        env = {**os.environ, "U2NET_HOME": str(home)}
        out = Path(scratch) / "out"
        commands = {
            f"rembg 2.0.86 `rembg p -m {model}`": [str(args.rembg), "p", "-m", model, str(folder)]
            for model in ("u2netp", "u2net")
        } | {
            f"cutstream `cutstream remove --model {model}`": [cutstream, "remove", "--model", model]
            for model in ("u2netp", "u2net")
        }
        commands["cutstream `cutstream remove` (default: u2net-int8)"] = [cutstream, "remove"]
        times: dict[str, list[float]] = {name: [] for name in commands}
        sizes: dict[str, float] = {}
        for run in range(args.runs + 1):  # the first is the warm-up
            for name, command in commands.items():
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                if "rembg" in name:
                    argv = [*command, str(out)]
                else:
                    argv = [*command, "-o", str(out), str(folder)]
                seconds = timed(argv, env)
                if run:
                    times[name].append(seconds)
                sizes[name] = size_of(out) / len(sources) / 1e6
    rates = {name: len(sources) / statistics.median(values) for name, values in times.items()}
    for name, rate in rates.items():
        print(f"{name}: {rate:.2f} images/s")
    lines = [
        f"Machine: {machine()}. {len(sources)} JPEGs of ~1600 px → transparent PNG, wall time "
        f"including process start-up, median of {args.runs} interleaved runs after one "
        "untimed warm-up run of each command. Command: `make bench-rembg`.",
        "",
        "| tool | images/s | MB per output |",
        "|---|---|---|",
        *(f"| {name} | {rates[name]:.2f} | {sizes[name]:.2f} |" for name in commands),
    ]
    replace_section(args.write, "rembg", "\n".join(lines))


if __name__ == "__main__":
    main()
