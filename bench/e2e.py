"""``make bench-e2e``: end-to-end images/s through Kafka and S3, and latency under load.

On a private embedded stack (durable broker, its log store, the S3 server), with 1 and
then 2 worker processes, for the ~1600 px benchmark set (bench/dataset.py), u2netp → PNG:

- *throughput*: every input is uploaded first; then all requests are published at once
  and the clock runs from the first publish to the last completed event;
- *latency*: requests published at half the measured throughput, one by one; latency is
  publish → completed event, as a producer sees it (p50, p95);
- *peak RSS* of each worker process (VmHWM).

The local ``cutstream remove`` rate on the same images (3 threads, the runtime ``auto``
picks) is measured first, in the same run, and the ratio to it is the overhead of the
stream path: both sides warm, the inputs already in S3, the outputs left there.

Then, with the 1-worker stack still up, the commands themselves, as a user runs them: the
set × ``--rounds`` as files, ``cutstream remove`` and ``cutstream submit`` (which uploads
each input, publishes, waits and downloads each output) alternately, twice each, wall
time from start to exit — ``remove`` pays its start-up (imports, model) where the
worker's model is loaded already.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.dataset import photos
from bench.report import machine, replace_section
from schemas.events import ImageRequest, ImageRequested
from schemas.options import RemovalOptions
from schemas.refs import S3Object
from streams import local
from streams.config.settings import Settings
from streams.imaging.build import build_remover
from streams.messaging.results import ResultWatcher
from streams.messaging.submit import new_request_id
from streams.stack import EmbeddedStack, ManagedProcess
from streams.stack.servers import free_port
from streams.storage.layout import upload_key
from streams.storage.s3 import S3ObjectStore

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Harness:
    def __init__(self, settings: Settings, keys: list[str]) -> None:
        self.settings = settings
        self.keys = keys
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        self.watcher = ResultWatcher(settings)
        self.sent: dict[str, float] = {}
        self.done: dict[str, float] = {}

    async def __aenter__(self) -> Harness:
        await self.producer.start()
        await self.watcher.start()
        self.collector = asyncio.create_task(self._collect())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.collector.cancel()
        await self.producer.stop()
        await self.watcher.stop()

    async def _collect(self) -> None:
        while True:
            events = await self.watcher.next_batch(timeout_ms=200)
            now = time.perf_counter()
            for event in events:
                if event.request_id in self.sent and event.request_id not in self.done:
                    self.done[event.request_id] = now

    async def publish(self, key: str) -> str:
        request = ImageRequested(
            request_id=new_request_id(),
            payload=ImageRequest(
                input=S3Object(bucket=self.settings.s3.input_bucket, key=key),
                options=RemovalOptions(),
            ),
        )
        self.sent[request.request_id] = time.perf_counter()
        await self.producer.send_and_wait(
            self.settings.topics.requests,
            request.model_dump_json().encode(),
            key=request.request_id.encode(),
        )
        return request.request_id

    async def wait_for(self, ids: list[str], timeout: float = 600) -> None:
        deadline = time.perf_counter() + timeout
        while not all(i in self.done for i in ids):
            if time.perf_counter() > deadline:
                raise SystemExit(f"{sum(i not in self.done for i in ids)} results missing")
            await asyncio.sleep(0.05)


def cli_seconds(env: dict[str, str], rounds: int) -> tuple[float, float]:
    """Wall seconds of ``cutstream remove`` and of ``cutstream submit`` on the set ×
    ``rounds`` as files (medians of two runs each, alternated), on the stack ``env``
    names."""
    cutstream = [sys.executable, "-m", "streams"]
    with tempfile.TemporaryDirectory() as work:
        inputs = Path(work) / "in"
        inputs.mkdir()
        for round_ in range(rounds):
            for path in photos():
                (inputs / f"{round_}-{path.name}").write_bytes(path.read_bytes())
        files = sorted(str(path) for path in inputs.iterdir())
        commands = {
            "remove": [*cutstream, "remove", str(inputs), "-o"],
            "submit": [*cutstream, "submit", *files, "-o"],
        }
        seconds: dict[str, list[float]] = {"remove": [], "submit": []}
        for attempt in range(2):
            for name, command in commands.items():
                out = Path(work) / f"{name}-{attempt}"
                started = time.perf_counter()
                subprocess.run([*command, str(out)], env=env, check=True, capture_output=True)
                seconds[name].append(time.perf_counter() - started)
                if len(list(out.iterdir())) != len(files):
                    raise SystemExit(f"{name} wrote {len(list(out.iterdir()))} of {len(files)}")
    return statistics.median(seconds["remove"]), statistics.median(seconds["submit"])


async def run(
    workers: int, rounds: int, *, paced: bool = True, cli: bool = False, **groups: dict[str, object]
) -> tuple[float, float, float, list[float], tuple[float, float] | None]:
    """Images/s of a burst, then (``paced``) latency p50/p95 at half that rate, each
    worker's peak RSS and (``cli``) :func:`cli_seconds`; ``groups`` are more settings
    (e.g. ``models={...}``)."""
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(
            state_dir=Path(state),
            stack={"kafka_port": free_port(), "s3_port": free_port()},
            worker={"web_port": 0},
            **groups,  # type: ignore[arg-type]
        )
        stack = EmbeddedStack(settings)
        await stack.start()
        children = []
        try:
            store = S3ObjectStore(settings)
            keys = []
            for path in photos():
                key = upload_key("default", "bench", path.name)  # the account's own prefix
                await asyncio.to_thread(
                    store.put, settings.s3.input_bucket, key, path.read_bytes(), "image/jpeg"
                )
                keys.append(key)
            env = {**os.environ, **settings.to_env()}
            for index in range(workers):
                child = ManagedProcess(
                    f"worker-{index}",
                    [sys.executable, "-m", "streams", "worker"],
                    env=env,
                    log_path=Path(state) / f"worker-{index}.log",
                )
                child.start()
                children.append(child)
            async with Harness(settings, keys) as harness:
                warm = [await harness.publish(keys[i % len(keys)]) for i in range(2 * workers)]
                await harness.wait_for(warm)
                await asyncio.sleep(12 if workers > 1 else 1)  # let every worker join
                processes = {p.name: p.pid for p in [*stack.processes, *children] if p.pid}
                before = {name: cpu_seconds(pid) for name, pid in processes.items()}
                burst = [await harness.publish(key) for _ in range(rounds) for key in keys]
                started = min(harness.sent[i] for i in burst)
                await harness.wait_for(burst)
                rate = len(burst) / (max(harness.done[i] for i in burst) - started)
                cpu = {
                    name: (cpu_seconds(pid) - before[name]) / len(burst)
                    for name, pid in processes.items()
                }
                print(
                    "CPU s per image: "
                    + ", ".join(f"{name} {seconds:.3f}" for name, seconds in cpu.items())
                )
                latencies = [0.0, 0.0]
                if paced:
                    sent, interval = [], 2 / rate  # half the saturated rate
                    for key in keys:
                        sent.append(await harness.publish(key))
                        await asyncio.sleep(interval)
                    await harness.wait_for(sent)
                    latencies = [harness.done[i] - harness.sent[i] for i in sent]
            commands = await asyncio.to_thread(cli_seconds, env, rounds) if cli else None
            rss = [peak_rss_mb(child.pid) for child in children if child.pid]
        finally:
            for child in children:
                child.stop(30)
            stack.stop()
    quantiles = statistics.quantiles(latencies, n=20)
    return rate, quantiles[9], quantiles[18], rss, commands


def local_rate(rounds: int) -> float:
    """Images/s of ``cutstream remove``'s runner on the same images, median of ``rounds``."""
    remover = build_remover(Settings())
    paths = photos()
    options = RemovalOptions()
    times = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(rounds + 1):  # the first pass loads and warms the model
            started = time.perf_counter()
            tasks = local.plan(paths, Path(out), options)
            for outcome in local.run(remover, tasks, options, threads=3):
                if outcome.error is not None:
                    raise outcome.error
            times.append(time.perf_counter() - started)
    return len(paths) / statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rounds", type=int, default=3, help="passes over the set per burst (3: 72 photos)"
    )
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    local = local_rate(args.rounds)
    print(f"local cutstream remove: {local:.2f} images/s")
    rows = []
    commands = None
    for workers in (1, 2):
        rate, p50, p95, rss, timed = asyncio.run(run(workers, args.rounds, cli=workers == 1))
        if workers == 1:
            commands = timed
        ratio = f"{rate / local:.0%}"
        rss_text = ", ".join(f"{mb:.0f}" for mb in rss)
        print(
            f"{workers} worker(s): {rate:.2f} images/s ({ratio}), p50 {p50:.2f} s, "
            f"p95 {p95:.2f} s, peak RSS {rss_text} MB"
        )
        rows.append(f"| {workers} | {rate:.2f} | {ratio} | {p50:.2f} | {p95:.2f} | {rss_text} |")
    assert commands is not None
    remove_s, submit_s = commands
    images = len(photos()) * args.rounds
    said = (
        f"The commands, {images} photos, on the 1-worker stack (medians of two runs each, "
        f"alternated): `cutstream remove` {remove_s:.2f} s, `cutstream submit` "
        f"{submit_s:.2f} s: **{remove_s / submit_s:.2f}x**."
    )
    print(said)
    lines = [
        f"Machine: {machine()}. {len(photos())} JPEGs of ~1600 px × {args.rounds} per burst, "
        f"{Settings().models.default} → PNG, embedded stack (durable broker) on the same 2 "
        "cores; local "
        f"`cutstream remove` in the same run: {local:.2f} images/s. Command: `make bench-e2e`.",
        "",
        "| workers | images/s | of local remove | latency p50 (s) | latency p95 (s) "
        "| peak RSS per worker (MB) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        said,
    ]
    replace_section(args.write, "e2e", "\n".join(lines))


if __name__ == "__main__":
    main()
