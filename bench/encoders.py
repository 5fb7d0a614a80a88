"""``make bench-encoders``: why processors/encode.py encodes the way it does.

Encodes real u2netp cutouts of the benchmark set (first 8 photos, ~1600 px, transparent
pixels' colour cleared as in production) with candidate settings, and reports mean time
and size per image.
"""

from __future__ import annotations

import io
import statistics
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from bench.dataset import photos
from bench.report import machine, replace_section
from processors.compose import compose, subject_alpha
from processors.decode import decode
from processors.encode import clear_transparent
from schemas.options import RemovalOptions
from streams.config.settings import Settings
from streams.imaging.build import build_remover

ROOT = Path(__file__).resolve().parents[1]

CANDIDATES: dict[str, Callable[[Image.Image], bytes]] = {}


def candidate(name: str, fmt: str, **params: object) -> None:
    def encode(picture: Image.Image) -> bytes:
        buffer = io.BytesIO()
        picture.save(buffer, fmt, **params)
        return buffer.getvalue()

    CANDIDATES[name] = encode


candidate("PNG level 6 (Pillow's default)", "PNG", compress_level=6)
candidate("PNG level 1", "PNG", compress_level=1)
candidate("PNG level 1, Z_RLE (shipped)", "PNG", compress_level=1, compress_type=zlib.Z_RLE)
candidate("PNG level 3, Z_RLE", "PNG", compress_level=3, compress_type=zlib.Z_RLE)
candidate("WebP q90 method 0 (shipped)", "WEBP", quality=90, method=0, alpha_quality=100)
candidate("WebP q90 method 2", "WEBP", quality=90, method=2, alpha_quality=100)
candidate("WebP q90 method 4 (Pillow's default)", "WEBP", quality=90, method=4, alpha_quality=100)
candidate("WebP lossless method 0", "WEBP", lossless=True, method=0, quality=0)


def main() -> None:
    remover = build_remover(Settings())
    segmenter = remover.segmenter("u2netp")
    pictures = []
    for path in photos()[::3]:
        decoded = decode(path.read_bytes())
        alpha = subject_alpha(segmenter.predict(decoded.rgb), None)
        pictures.append(clear_transparent(compose(decoded.rgb, alpha, RemovalOptions())))
    lines = [
        f"Machine: {machine()}. {len(pictures)} u2netp cutouts of ~1600 px, RGBA. "
        "Command: `make bench-encoders`.",
        "",
        "| encoder | ms per image | MB per image |",
        "|---|---|---|",
    ]
    for name, encode in CANDIDATES.items():
        times, sizes = [], []
        for picture in pictures:
            started = time.perf_counter()
            sizes.append(len(encode(picture)))
            times.append(time.perf_counter() - started)
        line = (
            f"| {name} | {statistics.mean(times) * 1000:.0f} | {statistics.mean(sizes) / 1e6:.2f} |"
        )
        print(line)
        lines.append(line)
    replace_section(ROOT / "docs" / "benchmarks.md", "encoders", "\n".join(lines))


if __name__ == "__main__":
    main()
