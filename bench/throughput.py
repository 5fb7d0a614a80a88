"""``make bench``: images/s of the model alone vs the whole `cutstream remove` path.

For each model and output format, on the fixed ~1600 px set (bench/dataset.py):

- *model only*: ``session.run`` over pre-made input tensors (no decode, no encode);
- *remove, sequential*: one image at a time through ``Remover.remove`` (+ file I/O);
- *remove, overlapped*: ``cutstream remove``'s own runner (3 threads, one model run at a
  time), including reading and writing the files.

Each figure is the median of ``--repeat`` passes over the set. Results are written into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from bench.dataset import photos
from bench.report import machine, replace_section
from schemas.options import RemovalOptions
from streams.config.settings import Settings
from streams.imaging.build import build_remover
from streams.local import plan, run

ROOT = Path(__file__).resolve().parents[1]


def median_rate(count: int, repeat: int, work: Callable[[], None]) -> float:
    """Images per second: ``count`` images per pass, median over ``repeat`` passes."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return count / statistics.median(times)


def measure(
    model: str, formats: list[str], repeat: int, threads: int
) -> list[tuple[str, str, float]]:
    settings = Settings()
    remover = build_remover(settings)
    segmenter = remover.segmenter(model)
    paths = photos()
    tensors = []
    for path in paths:
        with Image.open(path) as image:
            tensors.append(segmenter.preprocess(image.convert("RGB")))
    segmenter.run(tensors[0])  # warm-up

    def model_only() -> None:
        for tensor in tensors:
            segmenter.run(tensor)

    rows = [(model, "model only (ONNX Runtime)", median_rate(len(paths), repeat, model_only))]
    for fmt in formats:
        options = RemovalOptions.model_validate({"model": model, "format": fmt})
        with tempfile.TemporaryDirectory() as out:

            def sequential(out: str = out, options: RemovalOptions = options) -> None:
                for path in paths:
                    result = remover.remove(path.read_bytes(), options)
                    (Path(out) / f"{path.stem}.{result.extension}").write_bytes(result.data)

            def overlapped(out: str = out, options: RemovalOptions = options) -> None:
                tasks = plan(paths, Path(out), options)
                for outcome in run(remover, tasks, options, threads=threads):
                    if outcome.error is not None:
                        raise outcome.error

            count = len(paths)
            rows.append(
                (model, f"remove → {fmt}, sequential", median_rate(count, repeat, sequential))
            )
            rows.append(
                (
                    model,
                    f"remove → {fmt}, overlapped ({threads} threads)",
                    median_rate(count, repeat, overlapped),
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["u2netp", "u2net"])
    parser.add_argument("--formats", nargs="+", default=["png", "webp"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    rows = []
    for model in args.models:
        rows += measure(model, args.formats, args.repeat, args.threads)
        for row in rows[-(1 + 2 * len(args.formats)) :]:
            print(f"{row[0]:8s} {row[1]:42s} {row[2]:6.2f} images/s")
    lines = [
        f"Machine: {machine()}. Set: {len(photos())} JPEGs of ~1600 px (bench/dataset.py); "
        f"median of {args.repeat} passes. Command: `make bench`.",
        "",
        "| model | path | images/s |",
        "|---|---|---|",
        *(f"| {model} | {path} | {rate:.2f} |" for model, path, rate in rows),
    ]
    replace_section(args.write, "throughput", "\n".join(lines))


if __name__ == "__main__":
    main()
