"""``make bench``: images/s of the model alone vs the whole `cutstream remove` path.

For each model and output format, on the fixed ~1600 px set (bench/dataset.py):

- *model only*: the model over pre-made input tensors (no decode, no encode), for each
  runtime this machine has (ONNX Runtime f32, OpenVINO f32, OpenVINO bf16);
- *remove, sequential*: one image at a time through ``Remover.remove`` (+ file I/O);
- *remove, overlapped*: ``cutstream remove``'s own runner (3 threads, one model run at a
  time), including reading and writing the files.

The remove rows use the runtime ``auto`` chooses (named in the row).

Each figure is the median of ``--repeat`` passes over the set. Results are written into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench.dataset import photos
from bench.report import machine, replace_section
from processors.exceptions import RuntimeUnavailableError
from processors.segmenters import Segmenter
from processors.segmenters.engines import Tensor
from schemas.options import RemovalOptions
from streams.config.settings import Settings
from streams.imaging.build import build_remover
from streams.local import plan, run

ROOT = Path(__file__).resolve().parents[1]


RUNTIMES = (("onnxruntime", "f32"), ("openvino", "f32"), ("openvino", "bf16"))


def model_only(model: str, repeat: int) -> list[tuple[str, str, float]]:
    """The model alone under each runtime this machine can run, interleaved pass by pass
    (this machine's speed drifts by tens of percent over minutes: only runs side by side
    compare)."""
    paths = photos()
    contenders: list[tuple[Segmenter, list[Tensor]]] = []
    for engine, precision in RUNTIMES:
        settings = Settings(models={"runtime": engine, "precision": precision})
        try:
            segmenter = build_remover(settings).segmenter(model)
        except RuntimeUnavailableError as exc:
            print(f"{model} {engine} {precision}: {exc.message}")
            continue
        tensors = []
        for path in paths:
            with Image.open(path) as image:
                tensors.append(segmenter.preprocess(image.convert("RGB")))
        segmenter.run(tensors[0])  # warm-up
        contenders.append((segmenter, tensors))
    seconds: list[list[float]] = [[] for _ in contenders]
    for _ in range(repeat):
        for index, (segmenter, tensors) in enumerate(contenders):
            started = time.perf_counter()
            for tensor in tensors:
                segmenter.run(tensor)
            seconds[index].append(time.perf_counter() - started)
    return [
        (model, f"model only ({segmenter.runtime})", len(paths) / statistics.median(times))
        for (segmenter, _), times in zip(contenders, seconds, strict=True)
    ]


def measure(
    model: str, formats: list[str], repeat: int, threads: int
) -> list[tuple[str, str, float]]:
    rows = model_only(model, repeat)
    removers = {
        name: build_remover(Settings(models={"runtime": name})) for name in ("onnxruntime", "auto")
    }
    runtimes = {name: remover.segmenter(model).runtime for name, remover in removers.items()}
    paths = photos()
    for fmt in formats:
        options = RemovalOptions.model_validate({"model": model, "format": fmt})
        timings: dict[tuple[str, str], list[float]] = {}
        with tempfile.TemporaryDirectory() as out:
            for _ in range(repeat):  # interleaved: the machine's speed drifts
                for name, remover in removers.items():
                    started = time.perf_counter()
                    tasks = plan(paths, Path(out), options)
                    for outcome in run(remover, tasks, options, threads=threads):
                        if outcome.error is not None:
                            raise outcome.error
                    timings.setdefault((name, "overlapped"), []).append(
                        time.perf_counter() - started
                    )
                started = time.perf_counter()
                for path in paths:
                    result = removers["auto"].remove(path.read_bytes(), options)
                    (Path(out) / f"{path.stem}.{result.extension}").write_bytes(result.data)
                timings.setdefault(("auto", "sequential"), []).append(time.perf_counter() - started)
        for (name, how), times in timings.items():
            label = f"remove → {fmt}, {how}"
            if how == "overlapped":
                label += f" ({threads} threads)"
            rate = len(paths) / statistics.median(times)
            rows.append((model, f"{label}, {runtimes[name]}", rate))
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
        for row in rows:
            if row[0] == model:
                print(f"{row[0]:8s} {row[1]:60s} {row[2]:6.2f} images/s")
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
