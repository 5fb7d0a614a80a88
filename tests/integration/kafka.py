"""Small real-Kafka helpers for tests: raw produce, read a topic from the start, health."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.ledger import UsageEvent
from streams.config.settings import Settings

BIG = 1_500_000
"""Bytes in a record larger than the workers' producers may send (1 MiB by default): an
outside producer with a larger limit can still put one on a topic."""


async def produce_raw(
    settings: Settings,
    topic: str,
    values: Iterable[bytes],
    *,
    headers: dict[str, bytes] | None = None,
) -> None:
    """Publish ``values`` as an outside producer would (up to 4 MiB a record)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", max_request_size=4 * 1024 * 1024
    )
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, headers=list((headers or {}).items()))
    finally:
        await producer.stop()


async def read_topic(
    settings: Settings,
    topic: str,
    *,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 120.0,
) -> list[dict[str, Any]]:
    """Every JSON record of ``topic`` from the beginning, until ``until(records)`` holds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    records: list[dict[str, Any]] = []
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while not until(records):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: condition not met; have {len(records)} records")
            batches = await consumer.getmany(timeout_ms=500)
            records += [json.loads(r.value) for rs in batches.values() for r in rs]
    finally:
        await consumer.stop()
    return records


async def read_usage(
    settings: Settings,
    account: str,
    until: Callable[[list[UsageEvent]], bool],
    timeout: float = 90.0,
) -> list[UsageEvent]:
    """The usage events of ``account``, from the start, read until ``until(events)``."""

    def mine(records: list[dict[str, Any]]) -> list[UsageEvent]:
        return [UsageEvent.model_validate(r) for r in records if r.get("account") == account]

    records = await read_topic(
        settings, settings.topics.usage, until=lambda rs: until(mine(rs)), timeout=timeout
    )
    return mine(records)


async def wait_for_partitions(port: int, topic: str, timeout: float = 90.0) -> list[str]:
    """Poll a worker's /healthz until it owns partitions of ``topic``; return them."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                health = (await client.get(f"http://127.0.0.1:{port}/healthz")).json()
            except httpx.HTTPError:
                health = {"assigned_partitions": []}
            owned = [p for p in health["assigned_partitions"] if p.startswith(f"{topic}:")]
            if owned:
                return owned
            await asyncio.sleep(0.5)
    raise AssertionError(f"worker on port {port} never got partitions of {topic}")
