"""``make bench-tenants``: one tenant's hostile bulk load beside another tenant's work.

On a private embedded stack with the whole service (worker, ledger, batch service,
gateway; metering on, both accounts on the `per-usage` plan, so every item of either goes
through the ledger):

1. *idle*: account B's synchronous requests (``POST /v1/remove-background``, the 600×400
   coffee photo), one after the other: p50 and p95 latency;
2. account A submits two batches whose manifest host never answers and one 20,000-row
   manifest of keys that name nothing (each item is reserved, fails ``input_not_found`` and
   is refunded); once 300 of its items are done:
3. *busy*: B submits a 3-photo batch — the seconds until it completes — and sends the same
   synchronous requests again: p50 and p95, and any 503;
4. A's items done per second while it ran (the rate at which junk drains from the lane:
   what B's items waited behind before ``batches.max_outstanding_per_account``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from bench.batch import child, until
from bench.report import machine, replace_section
from schemas.batches import BatchSpec
from schemas.ledger import CreateAccount
from streams.config.settings import Settings
from streams.messaging.batches import Batches
from streams.messaging.ledger import LedgerClient
from streams.stack import EmbeddedStack, ManagedProcess
from streams.stack.servers import free_port
from streams.storage.apikeys import KeyStore
from streams.storage.s3 import S3ObjectStore

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = 20


def coffee() -> bytes:
    import io

    import numpy as np
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    picture = np.asarray(getattr(data, "coffee")(), dtype=np.uint8)  # noqa: B009 (untyped)
    Image.fromarray(picture).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


async def sync_latencies(url: str, key: str, photo: bytes) -> tuple[list[float], int]:
    """Seconds of each of ``REQUESTS`` synchronous requests, and how many were not 200."""
    times, failures = [], 0
    async with httpx.AsyncClient(base_url=url, headers={"ApiKey": key}, timeout=120) as client:
        for _ in range(REQUESTS):
            started = time.perf_counter()
            answer = await client.post(
                "/v1/remove-background", files={"image": ("coffee.jpg", photo)}
            )
            times.append(time.perf_counter() - started)
            failures += answer.status_code != 200
    return times, failures


def junk_csv(rows: int) -> bytes:
    lines = ["id,key", *(f"junk-{n},uploads/tenant-a/missing-{n}.jpg" for n in range(rows))]
    return ("\n".join(lines) + "\n").encode()


def spec(batch_id: str, account: str, source: Mapping[str, object]) -> BatchSpec:
    return BatchSpec.model_validate({"batch_id": batch_id, "account": account, "source": source})


async def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        logs = Path(state)
        settings = Settings(
            state_dir=Path(state),
            stack={"kafka_port": free_port(), "s3_port": free_port()},
            gateway={"port": free_port()},
            worker={"web_port": 0},
            batches={"web_port": 0},
            metering={"web_port": 0},
            webhooks={"web_port": 0},
            urls={"allow_http": True, "allow_loopback": True},
        )
        stack = EmbeddedStack(settings)
        await stack.start()
        children: list[ManagedProcess] = []
        store = S3ObjectStore(settings)
        batches = Batches(settings, store, store, "bench")
        await batches.start()
        try:
            for command in ("worker", "ledger", "batches", "gateway"):
                children.append(child(settings, command, logs))
            ledger = LedgerClient(settings, "bench")
            await ledger.start()
            for name in ("tenant-a", "tenant-b"):
                deadline = time.monotonic() + 120
                while True:
                    try:
                        await ledger.ask(
                            CreateAccount(account=name, plan="per-usage", credits=1_000_000)
                        )
                        break
                    except Exception:  # the ledger has not joined yet
                        if time.monotonic() > deadline:
                            raise
            await ledger.stop()
            keys = KeyStore(store, settings.s3.jobs_bucket)
            b_key, _ = keys.create("tenant-b")
            url = f"http://127.0.0.1:{settings.gateway.port}"
            photo = coffee()
            await sync_latencies(url, b_key, photo)  # warm up (model load, group joins)
            idle, _ = await sync_latencies(url, b_key, photo)

            bucket = settings.s3.input_bucket
            nowhere = f"http://127.0.0.1:{free_port()}"
            for n in (1, 2):
                unreachable = {"kind": "manifest", "manifest": {"url": f"{nowhere}/{n}.csv"}}
                await batches.submit(spec(f"a-unreachable-{n}", "tenant-a", unreachable))
            store.put(bucket, "uploads/tenant-a/junk.csv", junk_csv(20_000), "text/csv")
            junk = {
                "kind": "manifest",
                "manifest": {"bucket": bucket, "key": "uploads/tenant-a/junk.csv"},
            }
            await batches.submit(spec("a-junk", "tenant-a", junk))
            started_junk = time.monotonic()

            async def flowing() -> bool:
                return (await batches.view("tenant-a", "a-junk")).counts.done >= 300

            await until(flowing, 600)
            lines = []
            for index, path in enumerate(
                sorted((ROOT / "bench" / "out" / "photos").glob("*.jpg"))[:3]
            ):
                store.put(bucket, f"uploads/tenant-b/p{index}.jpg", path.read_bytes(), "image/jpeg")
                lines.append(f'{{"id": "p{index}", "input": "uploads/tenant-b/p{index}.jpg"}}')
            store.put(
                bucket, "uploads/tenant-b/items.jsonl", "\n".join(lines).encode(), "text/plain"
            )
            small = {
                "kind": "manifest",
                "manifest": {"bucket": bucket, "key": "uploads/tenant-b/items.jsonl"},
            }
            started = time.monotonic()
            await batches.submit(spec("b-small", "tenant-b", small))

            async def b_done() -> bool:
                return (await batches.record("tenant-b", "b-small")).finished_at is not None

            await until(b_done, 600)
            b_batch_s = time.monotonic() - started
            busy, failures = await sync_latencies(url, b_key, photo)
            view = await batches.view("tenant-a", "a-junk")
            junk_rate = view.counts.done / (time.monotonic() - started_junk)
            for batch_id in ("a-unreachable-1", "a-unreachable-2", "a-junk"):
                await batches.cancel("tenant-a", batch_id)
        finally:
            await batches.stop()
            for process in children:
                process.stop(30)
            stack.stop()
    return {
        "idle_p50": statistics.median(idle),
        "idle_p95": statistics.quantiles(idle, n=20)[18],
        "busy_p50": statistics.median(busy),
        "busy_p95": statistics.quantiles(busy, n=20)[18],
        "failures": float(failures),
        "b_batch_s": b_batch_s,
        "junk_rate": junk_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    started = time.monotonic()
    r = asyncio.run(run())
    ratio = r["busy_p50"] / r["idle_p50"]
    lines = [
        f"Machine: {machine()}. Embedded stack, one worker, ledger, batch service and gateway; "
        f"metering on (both accounts `per-usage`). Command: `make bench-tenants` "
        f"({time.monotonic() - started:.0f} s).",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| B's sync request (600×400 JPEG → PNG) idle, p50 / p95 "
        f"| {r['idle_p50']:.2f} / {r['idle_p95']:.2f} s | |",
        f"| the same while A's three batches run, p50 / p95 "
        f"| {r['busy_p50']:.2f} / {r['busy_p95']:.2f} s | |",
        f"| busy p50 ÷ idle p50 | {ratio:.2f}× | ≤ 2× |",
        f"| B's requests answered other than 200 while A's batches ran | {r['failures']:.0f} "
        f"of {REQUESTS} | 0 |",
        f"| B's 3-photo batch, submitted → completed | {r['b_batch_s']:.1f} s | ≤ 60 s |",
        f"| A's junk items finished per second (reserved, failed, refunded) "
        f"| {r['junk_rate']:.1f} | |",
    ]
    print("\n".join(lines))
    replace_section(args.write, "tenants", "\n".join(lines))


if __name__ == "__main__":
    main()
