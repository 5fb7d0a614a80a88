"""``make bench`` (and ``make bench-renditions``): what renditions cost.

On the fixed ~1600 px set (bench/dataset.py), per image, the image core
(``Remover.render``: decode, one model run, then per rendition crop, resize, compose,
encode) with:

- *single*: one full-size PNG (today's default request);
- *4 renditions*: PNG full, WebP medium, WebP small, JPEG on white small — the catalogue
  pipeline's set, from one model run, encoded side by side (as shipped) and one after the
  other (``PARALLEL_RENDITION_BYTES`` = 0: what a request whose pictures are too big to
  copy at once gets);
- *4 requests*: the same four outputs as four separate requests (four model runs), what a
  hosted API without renditions costs.

Interleaved passes (this machine's speed drifts), the median of ``--repeat``. Results go
into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bench.dataset import photos
from bench.report import machine, replace_section
from processors import Remover, pipeline
from schemas.events import ImageRequest
from schemas.options import RemovalOptions
from streams.config.settings import Settings
from streams.imaging.build import build_remover

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = [
    {"format": "png"},
    {"format": "webp", "size": "medium"},
    {"format": "webp", "size": "small"},
    {"format": "jpg", "bg_color": "#ffffff", "size": "small"},
]


def cases(model: str) -> dict[str, Callable[[Remover, bytes], object]]:
    base = RemovalOptions(model=model)
    request = ImageRequest.model_validate(
        {"input": {"bucket": "bench", "key": "x.jpg"}, "options": base, "outputs": CATALOGUE}
    )
    files = [spec.options for spec in request.specs()]

    def one_after_the_other(remover: Remover, data: bytes) -> object:
        limit, pipeline.PARALLEL_RENDITION_BYTES = pipeline.PARALLEL_RENDITION_BYTES, 0
        try:
            return remover.render(data, base, files)
        finally:
            pipeline.PARALLEL_RENDITION_BYTES = limit

    return {
        "single PNG": lambda remover, data: remover.remove(data, base),
        "4 renditions, one request": lambda remover, data: remover.render(data, base, files),
        "4 renditions, one request, encoded one after the other": one_after_the_other,
        "4 requests": lambda remover, data: [remover.render(data, base, [f]) for f in files],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="u2netp")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    remover = build_remover(Settings())
    images = [path.read_bytes() for path in photos()]
    timed = cases(args.model)
    remover.remove(images[0], RemovalOptions(model=args.model))  # load and warm up
    seconds: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(args.repeat):
        for name, run in timed.items():
            started = time.perf_counter()
            for data in images:
                run(remover, data)
            seconds[name].append((time.perf_counter() - started) / len(images))
    per_image = {name: statistics.median(times) for name, times in seconds.items()}
    single = per_image["single PNG"]
    lines = [
        f"Machine: {machine()}. Set: {len(images)} JPEGs of ~1600 px; {args.model}, "
        f"{remover.segmenter(args.model).runtime}; median of {args.repeat} passes, one image "
        "at a time. Command: `make bench` (`make bench-renditions` alone).",
        "",
        "| outputs per photo | ms per photo | × single PNG |",
        "|---|---|---|",
        *(
            f"| {name} | {value * 1000:.0f} | {value / single:.2f} |"
            for name, value in per_image.items()
        ),
    ]
    print("\n".join(lines))
    replace_section(args.write, "renditions", "\n".join(lines))


if __name__ == "__main__":
    main()
