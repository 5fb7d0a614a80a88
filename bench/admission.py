"""``make bench-admission``: what metering adds to each request, and the ledger's rate.

On a private embedded stack, with one ledger process, for each ``--runs`` entry
``log:rate[:seconds]`` — the broker's log ``local`` (durable, as ``make run`` has it) or
``memory``; by default 50 requests/s for 5 minutes on the durable log, then 100/s for 20 s
in memory:

- *added latency*: at a steady rate (100 requests/s by default), what a gateway waits
  for admission — a ``reserve`` carrying the request, answered once the ledger has
  applied it and queued the request — next to what it waited before metering:
  publishing the request. Added = the difference, at p50 and p99. Each admitted request
  is then settled (the charge its result would bring), so the ledger applies two
  commands per request, as in service;
- *throughput*: a burst of ``reserve`` commands (2,000) for one account (so one
  partition, one agent) sent at once; commands/s from the first send to the answer of
  a ``show`` sent last.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.report import machine, replace_section
from schemas.events import ImageRequest, ImageRequested
from schemas.ledger import CreateAccount, Plan, Reserve, Settle, Show
from schemas.options import RemovalOptions
from schemas.refs import S3Object
from streams.config.settings import Settings
from streams.exceptions import LedgerUnavailableError
from streams.messaging.ledger import LedgerClient
from streams.messaging.submit import Submitter, new_request_id
from streams.stack import EmbeddedStack, ensure_topics
from streams.stack.servers import free_port
from streams.stack.supervisor import service_process
from streams.storage.s3 import S3ObjectStore

ROOT = Path(__file__).resolve().parents[1]


def request() -> ImageRequested:
    return ImageRequested(
        request_id=new_request_id(),
        account="bench",
        payload=ImageRequest(
            input=S3Object(bucket="cutstream-inputs", key="uploads/bench/x/cup.jpg"),
            options=RemovalOptions(),
        ),
    )


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def paced(seconds: float, rate: float, call: Callable[[], Awaitable[None]]) -> list[float]:
    """Run ``call()`` ``rate`` times a second for ``seconds``; the latency of each, in ms."""
    latencies: list[float] = []

    async def one() -> None:
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)

    tasks = []
    start = time.perf_counter()
    for index in range(int(seconds * rate)):
        await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return latencies


async def run(storage: str, rate: float, seconds: float, burst: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(
            state_dir=Path(state),
            stack={"kafka_port": free_port(), "s3_port": free_port(), "kafka_storage": storage},
            metering={"web_port": 0},
        )
        plans = settings.metering.plans | {
            "bench": Plan(per_minute=10**9, draws_credits=True, description="no limits")
        }
        settings = settings.model_copy(
            update={"metering": settings.metering.model_copy(update={"plans": plans})}
        )
        stack = EmbeddedStack(settings)
        await stack.start()
        ledger = service_process(settings, "ledger", Path(state) / "ledger.log")
        try:
            await ensure_topics(settings, settings.all_topics)
            ledger.start()
            client = LedgerClient(settings, "bench")
            submitter = Submitter(settings, S3ObjectStore(settings), "bench")
            await client.start()
            await submitter.start()
            deadline = time.monotonic() + 120
            while True:
                try:
                    await client.ask(CreateAccount(account="bench", plan="bench", credits=10**9))
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
            for _ in range(50):  # warm up both paths
                await client.ask(Reserve(account="bench", request_id=new_request_id(), price=1))
                await submitter.publish([request()])

            unanswered = 0

            async def admit() -> None:
                nonlocal unanswered
                item = request()
                try:
                    reply = await client.ask(
                        Reserve(account="bench", request_id=item.request_id, price=1, request=item)
                    )
                except LedgerUnavailableError:
                    unanswered += 1
                    return
                assert reply.ok, reply
                # What its result would do: the ledger applies two commands per request.
                await client.tell(
                    Settle(account="bench", request_id=item.request_id, outcome="charge")
                )

            async def publish() -> None:
                await submitter.publish([request()])

            admitted = await paced(seconds, rate, admit)
            published = await paced(seconds, rate, publish)

            started = time.perf_counter()
            await asyncio.gather(
                *[
                    client.tell(Reserve(account="bench", request_id=f"b{i}", price=1))
                    for i in range(burst)
                ]
            )
            while True:  # answered once every command before it is applied
                try:
                    await client.ask(Show(account="bench"))
                    break
                except LedgerUnavailableError:
                    continue
            commands_per_s = burst / (time.perf_counter() - started)
            await submitter.stop()
            await client.stop()
        finally:
            ledger.stop(15)
            stack.stop()
    return {
        "admit_p50": pct(admitted, 50),
        "admit_p99": pct(admitted, 99),
        "publish_p50": pct(published, 50),
        "publish_p99": pct(published, 99),
        "rate": commands_per_s,
        "unanswered": unanswered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="Length of each paced run.")
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--burst", type=int, default=2_000, help="Commands in the burst.")
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["local:50:300", "memory:100"],
        help="broker log (local or memory):requests a second[:seconds], for each run",
    )
    args = parser.parse_args()
    lines = [
        f"Machine: {machine()}. Paced runs, the same length each way; a burst of "
        f"{args.burst:,} commands for one account. Command: `make bench-admission`.",
        "",
        "| broker log | requests/s | seconds | admission p50 / p99 | publish p50 / p99 (before) "
        "| added p50 / p99 | unanswered in 5 s | ledger commands/s (one partition) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec in args.runs:
        storage, rate, *length = spec.split(":")
        seconds = float(length[0]) if length else args.seconds
        r = asyncio.run(run(storage, float(rate), seconds, args.burst))
        print(spec, r)
        lines.append(
            f"| {storage} | {rate} | {seconds:g} | {r['admit_p50']:.1f} / {r['admit_p99']:.1f} ms "
            f"| {r['publish_p50']:.1f} / {r['publish_p99']:.1f} ms "
            f"| {r['admit_p50'] - r['publish_p50']:.1f} / "
            f"{r['admit_p99'] - r['publish_p99']:.1f} ms | {r['unanswered']:.0f} "
            f"| {r['rate']:,.0f} |"
        )
    replace_section(args.write, "admission", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
