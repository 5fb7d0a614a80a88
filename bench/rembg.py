"""``make bench-rembg``: rembg 2.0.86 vs ``cutstream remove``, same images, same weights.

rembg is installed into its own virtual environment (bench/out/rembg-venv, by the
Makefile) so that its dependency pins never touch ours; it is given our verified
u2netp.onnx (the same weights it would download). Both commands are timed end to end
(start-up included) on the benchmark set, writing PNGs, and the output sizes compared.
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    sources = photos()
    folder = sources[0].parent
    cutstream = str(Path(sys.executable).parent / "cutstream")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "u2net"
        home.mkdir()
        shutil.copy(Settings().models.dir / "u2netp.onnx", home / "u2netp.onnx")
        env = {**os.environ, "U2NET_HOME": str(home)}
        for name, command in (
            ("rembg 2.0.86 `rembg p -m u2netp`", [str(args.rembg), "p", "-m", "u2netp"]),
            ("cutstream `cutstream remove`", [cutstream, "remove", "-o"]),
        ):
            out = Path(scratch) / name.split()[0]
            out.mkdir()
            argv = (
                [*command, str(out), str(folder)]
                if "remove" in command
                else [*command, str(folder), str(out)]
            )
            seconds = timed(argv, env)
            rows.append((name, len(sources) / seconds, size_of(out) / len(sources) / 1e6))
            print(f"{name}: {len(sources) / seconds:.2f} images/s")
    lines = [
        f"Machine: {machine()}. {len(sources)} JPEGs of ~1600 px → transparent PNG with "
        "u2netp, wall time including process start-up, after one untimed warm-up run of "
        "each tool. Command: `make bench-rembg`.",
        "",
        "| tool | images/s | MB per output |",
        "|---|---|---|",
        *(f"| {name} | {rate:.2f} | {size:.2f} |" for name, rate, size in rows),
    ]
    replace_section(args.write, "rembg", "\n".join(lines))


if __name__ == "__main__":
    main()
