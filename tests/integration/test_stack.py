"""The embedded stack itself: provisioning, durability across restarts, no orphans."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.config.settings import Settings
from streams.stack import EmbeddedStack
from streams.stack.provision import kafka_probe
from streams.stack.servers import free_port
from streams.storage.s3 import S3ObjectStore
from tests.integration.conftest import embedded_settings
from tests.unit.stack.test_process import alive, wait_gone

pytestmark = pytest.mark.integration


async def topics_of(settings: Settings) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_external_parts_are_provisioned_not_started(stack_settings: Settings) -> None:
    external = stack_settings.model_copy(
        update={
            "kafka": stack_settings.kafka.model_copy(
                update={"bootstrap_servers": stack_settings.kafka_bootstrap}
            ),
            "s3": stack_settings.s3.model_copy(
                update={"endpoint": stack_settings.s3_endpoint, "output_bucket": "ext-outputs"}
            ),
            "topics": stack_settings.topics.model_copy(update={"requests": "ext.requests"}),
        }
    )
    stack = EmbeddedStack(external)
    await stack.start()
    try:
        assert stack.processes == []
        assert all(not endpoint.managed for endpoint in stack.endpoints())
        assert "ext.requests" in await topics_of(external)
        assert "ext-outputs" in S3ObjectStore(external).list_buckets()
    finally:
        stack.stop()


async def produce(settings: Settings, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for index in range(count):
            await producer.send_and_wait(topic, f"record-{index}".encode(), partition=0)
    finally:
        await producer.stop()


async def consume(
    settings: Settings, topic: str, group: str, count: int, *, commit: bool
) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + 60
        while len(values) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000, max_records=count - len(values))
            values.extend(record.value for records in batch.values() for record in records)
        if commit:
            await consumer.commit({TopicPartition(topic, 0): len(values)})
    finally:
        await consumer.stop()
    return values


async def committed(settings: Settings, topic: str, group: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group)
    await consumer.start()
    try:
        result: int | None = await consumer.committed(TopicPartition(topic, 0))
        return result
    finally:
        await consumer.stop()


async def test_durable_broker_keeps_topics_and_offsets_across_restart(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "state", topics={"partitions": 1})
    topic = settings.topics.requests
    first = EmbeddedStack(settings)
    await first.start()
    try:
        await produce(settings, topic, 10)
        assert len(await consume(settings, topic, "keeper", 4, commit=True)) == 4
    finally:
        first.stop()

    second = EmbeddedStack(settings)
    await second.start()
    try:
        assert topic in await topics_of(settings)
        assert await committed(settings, topic, "keeper") == 4
        rest = await consume(settings, topic, "keeper", 6, commit=False)
        assert rest == [f"record-{i}".encode() for i in range(4, 10)]
        everything = await consume(settings, topic, "newcomer", 10, commit=False)
        assert len(everything) == 10
        # New records continue the log instead of overwriting it (conditional writes).
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            metadata = await producer.send_and_wait(topic, b"after-restart", partition=0)
        finally:
            await producer.stop()
        assert metadata.offset == 10
        again = await consume(settings, topic, "late-reader", 11, commit=False)
        assert again == [*(f"record-{i}".encode() for i in range(10)), b"after-restart"]
    finally:
        second.stop()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def start_cli_stack(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Settings]:
    settings = embedded_settings(tmp_path / "state")
    process = subprocess.Popen(
        [sys.executable, "-m", "streams", "stack"],
        env={**os.environ, **settings.to_env()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return process, settings


async def wait_for_broker(settings: Settings, process: subprocess.Popen[bytes]) -> None:
    probe = kafka_probe(settings)
    deadline = time.monotonic() + 60
    while not await probe():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "cutstream stack never came up"
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("how", ["sigint", "sigkill"])
async def test_cli_stack_leaves_no_process_behind(tmp_path: Path, how: str) -> None:
    process, settings = start_cli_stack(tmp_path)
    try:
        await wait_for_broker(settings, process)
        # Provisioning is the last start-up step: once the topics exist, both servers run.
        deadline = time.monotonic() + 30
        while settings.topics.failed not in await topics_of(settings):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        servers = children_of(process.pid)
        assert len(servers) == 3, servers  # the S3 server, the broker's log store, the broker
        assert all(alive(pid) for pid in servers)

        process.send_signal(signal.SIGINT if how == "sigint" else signal.SIGKILL)
        code = process.wait(timeout=30)
        assert code == (0 if how == "sigint" else -9)
        for pid in servers:
            assert wait_gone(pid), f"server {pid} outlived `cutstream stack` ({how})"
    finally:
        process.kill()
        process.wait()


def start_up(settings: Settings) -> subprocess.Popen[str]:
    """``cutstream up`` as a user starts it, its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "streams", "up"],
        env={**os.environ, **settings.to_env(), "COLUMNS": "100"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_up_is_quiet_logs_to_files_and_stops_cleanly_in_seconds(tmp_path: Path) -> None:
    settings = embedded_settings(
        tmp_path / "state",
        gateway={"port": free_port()},
        worker={"web_port": free_port()},
        metering={"web_port": 0},
        webhooks={"web_port": 0},
        batches={"web_port": 0},
    )
    process = start_up(settings)
    try:
        url = f"http://127.0.0.1:{settings.gateway.port}/healthz"
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient() as client:
            while True:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url, timeout=2)).status_code == 200:
                        break
                assert time.monotonic() < deadline, "cutstream up never answered"
                await asyncio.sleep(1)
        await asyncio.sleep(3)  # the services' start-up chatter, had it come here
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        out, err = process.communicate(timeout=60)
        stopped_s = time.monotonic() - started
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert stopped_s < 20
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) <= 25, out  # the table and three lines: no service logs
    assert "worker-0.log" in out
    assert "gateway.log" in out
    assert f"Logs: {settings.state_dir / 'logs'}/" in out
    assert "whsec_Y3V0c3RyZWFtLWRldi13ZWJob29rLXNlY3JldA==" in out  # the dev secret, said
    assert "Unclosed" not in err
    assert "ERROR" not in err
    logs = settings.state_dir / "logs"
    assert "Uvicorn running" in (logs / "gateway.log").read_text()  # it went to the file
    for name in ("worker-0", "notifier", "ledger", "batches", "gateway"):
        text = (logs / f"{name}.log").read_text()
        assert "Unclosed AIOKafka" not in text, name
