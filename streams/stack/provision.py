"""Readiness probes and idempotent provisioning (buckets, topics) for any Kafka and S3."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streams.config.settings import Settings
from streams.exceptions import StackError, StorageUnavailableError
from streams.stack.process import ManagedProcess
from streams.storage.base import ObjectStore
from streams.storage.s3 import S3ObjectStore

log = logging.getLogger(__name__)

_TOPIC_EXISTS = TopicAlreadyExistsError.errno


async def wait_until(
    probe: Callable[[], Awaitable[bool]],
    *,
    what: str,
    timeout: float,
    process: ManagedProcess | None = None,
    interval: float = 0.1,
) -> None:
    """Poll ``probe`` until it returns True. Fails fast, with the server's log, if
    ``process`` exits first; fails after ``timeout`` seconds otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and (code := process.poll()) is not None:
            raise StackError(f"{what} exited with code {code}:\n{process.log_tail()}")
        if await probe():
            return
        if time.monotonic() > deadline:
            tail = f":\n{process.log_tail()}" if process is not None else ""
            raise StackError(f"{what} did not answer within {timeout:.0f} s{tail}")
        await asyncio.sleep(interval)


def s3_probe(store: ObjectStore) -> Callable[[], Awaitable[bool]]:
    """A probe that is true once the store answers an authenticated bucket listing."""

    async def probe() -> bool:
        try:
            await asyncio.to_thread(store.list_buckets)
        except StorageUnavailableError:
            return False
        return True

    return probe


def tcp_probe(host: str, port: int) -> Callable[[], Awaitable[bool]]:
    """A probe that is true once something accepts connections at ``host:port``."""

    async def probe() -> bool:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    return probe


def kafka_probe(settings: Settings) -> Callable[[], Awaitable[bool]]:
    """A probe that is true once the broker answers a metadata request."""

    host, _, port = settings.kafka_bootstrap.split(",")[0].strip().rpartition(":")
    accepting = tcp_probe(host, int(port))

    async def probe() -> bool:
        # A bare TCP connect first: aiokafka logs an ERROR for every refused bootstrap.
        if not await accepting():
            return False
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=5000
        )
        try:
            await admin.start()
            await admin.list_topics()
        except (KafkaError, OSError):
            return False
        finally:
            await admin.close()
        return True

    return probe


async def ensure_buckets(store: ObjectStore, buckets: Iterable[str]) -> None:
    """Create each bucket unless it exists."""
    for bucket in buckets:
        await asyncio.to_thread(store.ensure_bucket, bucket)


async def ensure_topics(settings: Settings, names: Iterable[str]) -> None:
    """Create each topic with its configured partitions unless it exists."""
    wanted = list(dict.fromkeys(names))
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return
        response = await admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=settings.partitions_of(name),
                    replication_factor=settings.topics.replication_factor,
                )
                for name in missing
            ]
        )
        for name, code, *detail in response.topic_errors:
            if code not in (0, _TOPIC_EXISTS):
                raise StackError(f"could not create topic {name}: error {code} {detail}")
        log.info("created topics %s", ", ".join(missing))
    finally:
        await admin.close()


async def provision(settings: Settings) -> None:
    """Wait until S3 and Kafka answer, then create the buckets and topics cutstream uses.

    Idempotent; used by the embedded stack after it starts its servers and, on its own, by
    ``cutstream provision`` against external Kafka and S3.
    """
    timeout = settings.stack.startup_timeout_s
    store = S3ObjectStore(settings, retries=0)
    await wait_until(s3_probe(store), what=f"S3 at {settings.s3_endpoint}", timeout=timeout)
    await wait_until(
        kafka_probe(settings), what=f"Kafka at {settings.kafka_bootstrap}", timeout=timeout
    )
    await ensure_buckets(store, settings.s3.buckets())
    await ensure_topics(settings, settings.all_topics)
