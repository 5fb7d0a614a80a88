"""``make bench-stack``: what the whole service (``cutstream up``, i.e. ``make run``) costs
when it has nothing to do — fresh, after work, and after a restart.

``cutstream up`` runs in a fresh state directory on free ports. Once the gateway answers
and a first photo has gone through (every consumer has joined its group) and
``kafka.idle_after_s`` has passed (consumers then wait longer for records), the CPU time
of each process is read from /proc over ``--window`` seconds of no work: *fresh*. Then
20,000 records go through the broker (requests no worker can read, each dead-lettered:
every record is produced, consumed, answered and committed) and 100 photos through the
pipeline (``cutstream submit``'s path); after a pause, the idle window again: *after
work*. Then ``up`` is stopped (SIGINT), started again on the same state, and measured a
third time: *after a restart*. Percent of one core, per process and in all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from bench.dataset import photos
from bench.e2e import cpu_seconds
from bench.report import machine, replace_section
from schemas.events import ImageCompleted
from schemas.options import RemovalOptions
from streams.client import Client
from streams.config.settings import Settings
from streams.stack.servers import free_port
from streams.storage.s3 import S3ObjectStore

ROOT = Path(__file__).resolve().parents[1]
NAMES = {
    "tansu": "broker",
    "streams.stack.logstore": "broker log store",
    "streams.stack.s3server": "S3 server",
    "streams worker": "worker",
    "streams notifier": "notifier",
    "streams ledger": "ledger",
    "streams batches": "batch service",
    "streams gateway": "gateway",
    "streams up": "cutstream up",
}


def name_of(pid: int) -> str | None:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    return next((name for needle, name in NAMES.items() if needle in cmdline), None)


def tree(root: int) -> dict[int, str]:
    """The processes of ``cutstream up`` (itself and its children), named."""
    found = {root: "cutstream up"}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if parent == root and (name := name_of(int(entry.name))) is not None:
            found[int(entry.name)] = name
    return found


def idle_cpu(root: int, window_s: float) -> dict[str, float]:
    """Percent of one core each process used over ``window_s`` of no work."""
    processes = tree(root)
    before = {pid: cpu_seconds(pid) for pid in processes}
    time.sleep(window_s)
    used: dict[str, float] = {}
    for pid, name in processes.items():
        used[name] = used.get(name, 0.0) + (cpu_seconds(pid) - before[pid]) / window_s * 100
    return used


class Up:
    """``cutstream up`` as a user runs it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams", "up"],
            env={**os.environ, **self.settings.to_env()},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 180
        url = f"http://127.0.0.1:{self.settings.gateway.port}/healthz"
        while True:
            assert self.process.poll() is None, "cutstream up died"
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return self.process.pid
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "cutstream up never answered"
            time.sleep(1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=120)


async def photos_through(settings: Settings, count: int) -> None:
    paths = (photos() * (count // 24 + 1))[:count]
    with tempfile.TemporaryDirectory() as out:
        async with Client(settings, S3ObjectStore(settings)) as client:
            outcomes = await client.submit_files(paths, Path(out), RemovalOptions(), timeout=1800)
    failed = [o for o in outcomes if not isinstance(o.event, ImageCompleted)]
    assert not failed, failed[:3]


async def records_through(settings: Settings, count: int) -> None:
    """``count`` records no worker can read: each is consumed, dead-lettered, committed."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sends = [
            await producer.send(settings.topics.requests, b"not a request %d" % n)
            for n in range(count)
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def settled(settings: Settings, count: int) -> None:
    """Wait until the worker has dead-lettered ``count`` records (its /metrics says)."""
    url = f"http://127.0.0.1:{settings.worker.web_port}/metrics"
    deadline = time.monotonic() + 1800
    while True:
        text = httpx.get(url, timeout=5).text
        done = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("cutstream_dead_letters_total{")
        )
        if done >= count:
            return
        assert time.monotonic() < deadline, f"only {done:.0f} of {count} dead-lettered"
        time.sleep(2)


def run(window_s: float) -> list[tuple[str, dict[str, float]]]:
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(
            state_dir=Path(state),
            stack={"kafka_port": free_port(), "s3_port": free_port()},
            gateway={"port": free_port()},
            worker={"web_port": free_port()},
            batches={"web_port": 0},
            metering={"web_port": 0},
            webhooks={"web_port": 0},
        )
        up = Up(settings)
        results = []
        try:
            root = up.start()
            asyncio.run(photos_through(settings, 1))
            time.sleep(settings.kafka.idle_after_s + 5)  # consumers at their idle wait
            results.append(("fresh", idle_cpu(root, window_s)))
            started = time.monotonic()
            asyncio.run(records_through(settings, 20_000))
            asyncio.run(photos_through(settings, 100))
            settled(settings, 20_000)
            print(f"20,000 records and 100 photos through in {time.monotonic() - started:.0f} s")
            time.sleep(settings.kafka.idle_after_s + 5)  # consumers at their idle wait
            results.append(("after 20,000 records and 100 photos", idle_cpu(root, window_s)))
            up.stop()
            root = up.start()
            asyncio.run(photos_through(settings, 1))
            time.sleep(settings.kafka.idle_after_s + 5)  # consumers at their idle wait
            results.append(("after a restart", idle_cpu(root, window_s)))
        finally:
            up.stop()
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    results = run(args.window)
    names = [name for name in NAMES.values() if any(name in used for _, used in results)]
    lines = [
        f"Machine: {machine()}. `cutstream up` (the whole service, as `make run` starts it), "
        f"{args.window:.0f} s of no work after each phase. Command: `make bench-stack`.",
        "",
        "| % of one core | " + " | ".join(phase for phase, _ in results) + " |",
        "|---|" + "---|" * len(results),
        *(
            f"| {name} | " + " | ".join(f"{used.get(name, 0.0):.1f}" for _, used in results) + " |"
            for name in names
        ),
        "| **all** | " + " | ".join(f"**{sum(used.values()):.1f}**" for _, used in results) + " |",
    ]
    print("\n".join(lines))
    replace_section(args.write, "stack", "\n".join(lines))


if __name__ == "__main__":
    main()
