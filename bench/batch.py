"""``make bench-batch``: bulk imports — planning speed and memory, batch throughput against
local ``cutstream remove``, and what a running batch does to interactive latency.

On a private embedded stack, in one run:

1. *planning*: a 10,000-row CSV manifest (S3 keys) is submitted to a batch service with no
   worker on its bulk lane; the clock runs from submission until the source has been read
   (every item parsed and stored in chunks: the record has its total; items are then
   queued as the account's earlier ones finish, ``batches.max_outstanding_per_account``);
   the service's peak RSS (VmHWM) is read from /proc.
2. *throughput*: the 24 benchmark photos (~1600 px) repeated to 240 items, one batch, one
   worker; items/s from submission to ``finished_at``, against the local
   ``cutstream remove`` rate on the same photos measured first (3 threads, median of 3).
3. *fairness*: interactive requests at a light load (one every 2 s) for ``--window`` s with
   the worker idle, then for the same time while a 2,000-item batch runs; latency is
   publish → completed event; p50 and p95 of each, and the ratio of the p95s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.dataset import photos
from bench.e2e import Harness, cpu_seconds, local_rate, peak_rss_mb
from bench.report import machine, replace_section
from schemas.batches import BatchSpec
from streams.config.settings import Settings
from streams.messaging.batches import Batches
from streams.stack import EmbeddedStack, ManagedProcess
from streams.stack.servers import free_port
from streams.storage.layout import upload_key
from streams.storage.s3 import S3ObjectStore

ROOT = Path(__file__).resolve().parents[1]


def child(settings: Settings, command: str, log_dir: Path) -> ManagedProcess:
    process = ManagedProcess(
        command,
        [sys.executable, "-m", "streams", command],
        env={**os.environ, **settings.to_env()},
        log_path=log_dir / f"{command}-{time.monotonic_ns()}.log",
    )
    process.start()
    return process


def manifest_spec(settings: Settings, batch_id: str, key: str) -> BatchSpec:
    return BatchSpec.model_validate(
        {
            "batch_id": batch_id,
            "source": {
                "kind": "manifest",
                "manifest": {"bucket": settings.s3.input_bucket, "key": key},
            },
        }
    )


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 900) -> None:
    """Poll ``check`` once a second (the bench's own CPU would count against the batch)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(1.0)


async def plan_10k(
    settings: Settings, batches: Batches, store: S3ObjectStore, logs: Path
) -> tuple[float, float]:
    """Seconds to read a 10,000-item manifest, and the batch service's peak RSS (MB)."""
    planner_settings = settings.model_copy(
        update={
            "topics": settings.topics.model_copy(update={"bulk_requests": "bench.plan-only.bulk"}),
            "batches": settings.batches.model_copy(update={"group_id": "bench-plan-only"}),
        }
    )
    rows = io.StringIO()
    rows.write("sku,key\n")
    for index in range(10_000):
        rows.write(f"sku-{index:05d},uploads/default/bench/item-{index:05d}.jpg\n")
    key = upload_key("default", "bench", "plan-10k.csv")
    store.put(settings.s3.input_bucket, key, rows.getvalue().encode(), "text/csv")
    service = child(planner_settings, "batches", logs)
    try:
        await asyncio.sleep(8)  # joined its group
        started = time.perf_counter()
        await batches.submit(manifest_spec(settings, "plan-10k", key))

        async def queued() -> bool:
            record = await batches.record("default", "plan-10k")
            return record.total is not None

        await until(queued)
        elapsed = time.perf_counter() - started
        assert service.pid is not None
        return elapsed, peak_rss_mb(service.pid)
    finally:
        service.stop(30)


def csv_of(keys: list[str], count: int) -> bytes:
    return ("key\n" + "".join(f"{keys[i % len(keys)]}\n" for i in range(count))).encode()


async def submit(batches: Batches, store: S3ObjectStore, batch_id: str, manifest: bytes) -> None:
    settings = batches.settings
    key = upload_key("default", "bench", f"{batch_id}.csv")
    store.put(settings.s3.input_bucket, key, manifest, "text/csv")
    await batches.submit(manifest_spec(settings, batch_id, key))


async def throughput(
    batches: Batches, store: S3ObjectStore, keys: list[str], processes: dict[str, int]
) -> float:
    """Items/s of a 240-item batch, submission to ``finished_at``."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    started = time.perf_counter()
    await submit(batches, store, "throughput", csv_of(keys, 240))

    async def finished() -> bool:
        return (await batches.record("default", "throughput")).finished_at is not None

    await until(finished)
    rate = 240 / (time.perf_counter() - started)
    view = await batches.view("default", "throughput")
    assert view.counts.succeeded == 240, view.counts
    cpu = {name: (cpu_seconds(pid) - before[name]) / 240 for name, pid in processes.items()}
    print("CPU s per item: " + ", ".join(f"{name} {s:.3f}" for name, s in cpu.items()))
    print(f"batch: {rate:.2f} items/s")
    return rate


async def fairness(
    batches: Batches, store: S3ObjectStore, harness: Harness, window_s: float
) -> dict[str, float]:
    """Interactive latency idle, then beside a 2,000-item batch (canceled after)."""
    keys = harness.keys

    async def interactive() -> list[float]:
        sent = []
        for index in range(int(window_s / 2)):
            sent.append(await harness.publish(keys[index % len(keys)]))
            await asyncio.sleep(2.0)
        await harness.wait_for(sent)
        return [harness.done[i] - harness.sent[i] for i in sent]

    results = {}
    idle = await interactive()
    await submit(batches, store, "fairness", csv_of(keys, 2000))

    async def started() -> bool:
        return (await batches.view("default", "fairness")).counts.done >= 10

    await until(started)
    busy = await interactive()
    progress = (await batches.view("default", "fairness")).counts
    await batches.cancel("default", "fairness")
    for name, values in (("idle", idle), ("busy", busy)):
        results[f"{name}_p50"] = statistics.median(values)
        results[f"{name}_p95"] = statistics.quantiles(values, n=20)[18]
    results["busy_items"] = float(progress.done)
    print(
        f"interactive p95: idle {results['idle_p95']:.2f} s, beside the batch "
        f"{results['busy_p95']:.2f} s ({progress.done} batch items done meanwhile)"
    )
    return results


async def run(window_s: float, parts: set[str]) -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as state:
        logs = Path(state)
        settings = Settings(
            state_dir=Path(state),
            stack={"kafka_port": free_port(), "s3_port": free_port()},
            worker={"web_port": 0},
            batches={"web_port": 0},
        )
        stack = EmbeddedStack(settings)
        await stack.start()
        children: list[ManagedProcess] = []
        store = S3ObjectStore(settings)
        batches = Batches(settings, store, store, "bench")
        await batches.start()
        try:
            keys = []
            for path in photos():
                key = upload_key("default", "bench", path.name)
                store.put(settings.s3.input_bucket, key, path.read_bytes(), "image/jpeg")
                keys.append(key)
            if "plan" in parts:
                results["plan_s"], results["plan_rss_mb"] = await plan_10k(
                    settings, batches, store, logs
                )
                print(
                    f"planning: 10,000 items read in {results['plan_s']:.1f} s, "
                    f"peak RSS {results['plan_rss_mb']:.0f} MB"
                )
            children.append(child(settings, "worker", logs))
            children.append(child(settings, "batches", logs))
            async with Harness(settings, keys) as harness:
                warm = [await harness.publish(keys[i]) for i in range(2)]
                await harness.wait_for(warm)
                await asyncio.sleep(3)
                if "throughput" in parts:
                    processes = {p.name: p.pid for p in [*stack.processes, *children] if p.pid}
                    processes["bench"] = os.getpid()
                    results["batch_rate"] = await throughput(batches, store, keys, processes)
                if "fairness" in parts:
                    results |= await fairness(batches, store, harness, window_s)
        finally:
            await batches.stop()
            for process in children:
                process.stop(30)
            stack.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--window", type=float, default=60.0, help="seconds of interactive load")
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--parts",
        default="plan,throughput,fairness",
        help="comma-separated parts to run; the docs are written only when all run",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    local = local_rate(3)
    print(f"local cutstream remove: {local:.2f} images/s")
    r = asyncio.run(run(args.window, parts))
    if parts != {"plan", "throughput", "fairness"}:
        return
    ratio = r["busy_p95"] / r["idle_p95"]
    lines = [
        f"Machine: {machine()}. Embedded stack, 1 worker, {Settings().models.default} → PNG; "
        "the 24 benchmark "
        f"JPEGs (~1600 px). Command: `make bench-batch`.",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| 10,000-item CSV manifest: submitted → read and stored | {r['plan_s']:.1f} s | ≤ 30 s |",
        f"| batch service peak RSS while planning it | {r['plan_rss_mb']:.0f} MB | < 200 MB |",
        f"| 240-item batch (24 photos × 10), items/s | {r['batch_rate']:.2f} | |",
        f"| local `cutstream remove`, same photos, images/s | {local:.2f} | |",
        f"| batch ÷ local | {r['batch_rate'] / local:.0%} | ≥ 95 % |",
        f"| interactive latency idle, p50 / p95 (one every 2 s, {args.window:.0f} s) "
        f"| {r['idle_p50']:.2f} / {r['idle_p95']:.2f} s | |",
        f"| the same beside a 2,000-item batch, p50 / p95 "
        f"| {r['busy_p50']:.2f} / {r['busy_p95']:.2f} s | |",
        f"| busy p95 ÷ idle p95 | {ratio:.2f}× ({r['busy_items']:.0f} batch items done "
        "in the window) | ≤ 2× |",
    ]
    print("\n".join(lines))
    replace_section(args.write, "batch", "\n".join(lines))


if __name__ == "__main__":
    main()
