"""The Kafka clients cutstream's own code creates (Faust apps make theirs from
:func:`streams.messaging.faustkit.create_app`)."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.config.settings import Settings


def new_producer(settings: Settings, role: str) -> AIOKafkaProducer:
    """A producer acknowledged by every in-sync replica, idempotent where the broker
    supports it (``kafka.enable_idempotence``); its client id ends in ``role``."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.kafka.client_id}-{role}",
        acks="all",
        enable_idempotence=settings.kafka.enable_idempotence,
        max_request_size=settings.kafka.max_message_bytes,
    )


def new_reader(
    settings: Settings, role: str, fetch_max_wait_ms: int | None = None
) -> AIOKafkaConsumer:
    """A consumer outside any group that commits nothing: it reads what it is assigned
    (results, offsets), from where it is told; its fetches wait at most
    ``fetch_max_wait_ms`` (default ``kafka.fetch_max_wait_ms``)."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.kafka.client_id}-{role}",
        enable_auto_commit=False,
        group_id=None,
        fetch_max_wait_ms=fetch_max_wait_ms or settings.kafka.fetch_max_wait_ms,
    )


async def start_all(*clients: AIOKafkaProducer | AIOKafkaConsumer) -> None:
    """Start ``clients`` in order; if one cannot (Kafka does not answer), close them all
    before re-raising, so nothing is left open — the Kafka client logs an error for each
    client it finds unclosed, started or not."""
    try:
        for client in clients:
            await client.start()
    except BaseException:
        for client in reversed(clients):
            with contextlib.suppress(Exception):
                await client.stop()
        raise


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a reader's background task (if started) and wait until it has stopped."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
