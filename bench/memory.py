"""Worker memory under an adversarial batch: many tiny PNGs that decode to huge pictures.

Each input is a 7000 x 7000 1-bit PNG of about 10 KB — 49 MP, under the 50 MP limit, 196 MB
once decoded. All are published at once to one real worker on the embedded stack, first
with the decoded-bytes budget at its default (``worker.max_in_flight_bytes``, 256 MiB: one
such picture at a time), then with the budget off (only ``worker.concurrency`` = 3 bounds
the pictures in flight, which is what bounding by compressed bytes amounted to).

Then the same bombs as *backdrops*: a small photo (112 x 75) with a 7000 x 7000 PNG as
``bg_image`` and 8 renditions, the requests published at once — the backdrop is larger than
the backdrop cache, so before it counted in the budget it was decoded once per rendition,
outside it (2.3 GB for one request, measured). The worker's resident memory is sampled
every 0.1 s; its peak (VmHWM) and what is left 10 s after the batch are reported.

Run: ``make bench-memory`` (writes the table into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

from bench.dataset import photos
from bench.report import machine, replace_section
from schemas.events import ImageCompleted
from schemas.options import RemovalOptions
from schemas.refs import S3Object
from schemas.renditions import Rendition
from streams.client import Client
from streams.config.settings import Settings
from streams.stack import EmbeddedStack
from streams.stack.servers import free_port
from streams.stack.supervisor import service_process
from streams.storage.layout import upload_key
from streams.storage.s3 import S3ObjectStore

ROOT = Path(__file__).resolve().parents[1]
UNBOUNDED = 1 << 50


def bomb(side: int, seed: int) -> bytes:
    """A 1-bit PNG of ``side`` x ``side`` with a striped subject: tiny, huge once decoded."""
    picture = Image.new("1", (side, side), 0)
    for y in range(seed % 50, side, 50):
        picture.paste(1, (side // 4, y, side // 2, y + 10))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sampler(threading.Thread):
    """Resident memory of ``pid`` every 0.1 s, until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            self.samples.append(status_mb(self.pid, "VmRSS"))


def photo() -> bytes:
    """A small photo (112 x 75), the input the backdrop case puts on a huge background."""
    picture = Image.open(photos()[1]).resize((112, 75))  # chelsea
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG")
    return buffer.getvalue()


RENDITIONS = [
    Rendition.model_validate({"format": fmt, "size": size})
    for fmt in ("png", "webp")
    for size in ("full", "medium", "small", "preview")
]
"""Eight renditions, each composited onto the backdrop."""

Request = tuple[S3Object, RemovalOptions, list[Rendition]]


async def measure(
    settings: Settings, requests: list[Request], log: Path
) -> tuple[float, float, float]:
    """(RSS before, peak RSS, RSS 10 s after the batch) of a fresh worker, in MB."""
    worker = service_process(settings, "worker", log)
    worker.start()
    assert worker.pid is not None
    try:
        async with Client(settings) as client:
            source, options, outputs = requests[0]
            warm = await client.submit(source, options, outputs=outputs)
            assert isinstance(await client.wait(warm.request_id, 300), ImageCompleted)
            before = status_mb(worker.pid, "VmRSS")
            sampler = Sampler(worker.pid)
            sampler.start()
            ids = [
                (await client.submit(source, options, outputs=outputs)).request_id
                for source, options, outputs in requests
            ]
            results = [event async for event in client.results(ids, 1800)]
            assert all(isinstance(event, ImageCompleted) for event in results), results
            await asyncio.sleep(10)
            sampler.stopped.set()
            peak = status_mb(worker.pid, "VmHWM")
            after = status_mb(worker.pid, "VmRSS")
        return before, max(peak, *sampler.samples), after
    finally:
        worker.stop(60)


async def run(count: int, side: int) -> list[tuple[str, str, float, float, float]]:
    with tempfile.TemporaryDirectory() as state:
        base = Settings(
            state_dir=Path(state),
            stack={"kafka_port": free_port(), "s3_port": free_port()},
            worker={"web_port": 0},
        )
        stack = EmbeddedStack(base)
        await stack.start()
        try:
            store = S3ObjectStore(base)
            bucket = base.s3.input_bucket
            keys = [upload_key("default", f"bomb-{i}", "bomb.png") for i in range(count)]
            for index, key in enumerate(keys):
                await asyncio.to_thread(store.put, bucket, key, bomb(side, index), "image/png")
            small = upload_key("default", "photo", "photo.jpg")
            await asyncio.to_thread(store.put, bucket, small, photo(), "image/jpeg")
            bombs: list[Request] = [
                (S3Object(bucket=bucket, key=key), RemovalOptions(), []) for key in keys
            ]
            backdrops: list[Request] = [
                (
                    S3Object(bucket=bucket, key=small),
                    RemovalOptions(bg_image=S3Object(bucket=bucket, key=key)),
                    RENDITIONS,
                )
                for key in keys
            ]
            cases = (
                ("inputs", "default (256 MiB)", None, bombs),
                ("inputs", "off", UNBOUNDED, bombs),
                ("backdrops, 8 renditions each", "default (256 MiB)", None, backdrops),
            )
            rows = []
            for case, name, budget, requests in cases:
                settings = base
                if budget is not None:
                    worker = base.worker.model_copy(update={"max_in_flight_bytes": budget})
                    settings = base.model_copy(update={"worker": worker})
                log = Path(state) / f"{case}-{name}.log"
                before, peak, after = await measure(settings, requests, log)
                print(f"{case}, budget {name}: {before:.0f} MB, peak {peak:.0f}, after {after:.0f}")
                rows.append((case, name, before, peak, after))
            return rows
        finally:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--side", type=int, default=7000)
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    started = time.monotonic()
    rows = asyncio.run(run(args.images, args.side))
    size = len(bomb(args.side, 0))
    lines = [
        f"Machine: {machine()}. {args.images} PNGs of {args.side}×{args.side} (1-bit, "
        f"~{size / 1000:.0f} KB each, {args.side * args.side / 1e6:.0f} MP), published at once "
        f"to one worker ({Settings().models.default} → PNG, concurrency 3): as inputs, then "
        "as the `bg_image` of "
        f"a 112×75 photo with 8 renditions (PNG and WebP at four sizes). "
        f"Command: `make bench-memory` ({time.monotonic() - started:.0f} s).",
        "",
        "| the bombs are | decoded-bytes budget | RSS before (MB) | peak RSS (MB) "
        "| RSS 10 s after (MB) |",
        "|---|---|---|---|---|",
        *(f"| {case} | {name} | {b:.0f} | {p:.0f} | {a:.0f} |" for case, name, b, p, a in rows),
    ]
    replace_section(args.write, "memory", "\n".join(lines))


if __name__ == "__main__":
    main()
