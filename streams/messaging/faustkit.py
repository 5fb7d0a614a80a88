"""What cutstream's Faust apps share: app construction, in-flight processing with in-order
manual acks, delay-tier forwarding, the web pages, the worker entry point.

Delivery guarantee (at-least-once). Faust acks an event when the agent moves past it, and
``take()`` acks a whole batch in a ``finally`` even when the agent is cancelled half way (a
SIGTERM). Agents here therefore take with ``noack_take`` and ack by hand: an event is acked
only after its handler has returned (i.e. everything it produced was handed to the
producer), and acks go strictly in arrival order, so the committed offset never passes an
event still in flight (faust #606 commits past a single in-flight head message). Faust
flushes its producer before it commits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams import metrics
from streams.config.settings import Settings

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "cutstream-attempt"
NOT_BEFORE_HEADER = "cutstream-not-before"


def worker_id() -> str:
    """This process, as ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def create_app(settings: Settings, group_id: str, web_port: int) -> faust.App:
    """A Faust app in consumer group ``group_id``, configured from ``settings``.

    Values are raw bytes: events are parsed by pydantic in the agents, so a malformed
    message becomes a dead letter instead of a crash in Faust's deserializer.
    """
    brokers = [f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")]
    datadir = settings.state_dir / "faust" / group_id
    datadir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    return faust.App(
        group_id,
        broker=brokers,
        broker_client_id=settings.kafka.client_id,
        broker_session_timeout=settings.kafka.session_timeout_s,
        broker_rebalance_timeout=settings.kafka.rebalance_timeout_s,
        broker_heartbeat_interval=settings.kafka.heartbeat_interval_s,
        producer_acks=-1,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        datadir=str(datadir),
        store="memory://",
        web_enabled=web_port > 0,
        web_port=web_port or None,
        web_bind=settings.runtime.web_bind,
        web_host=settings.runtime.web_bind,
        autodiscover=False,
    )


def raw_topic(app: faust.App, name: str) -> Any:
    """A topic handle of raw bytes (created by provisioning, not by Faust)."""
    return app.topic(name, key_type=bytes, value_type=bytes)


def headers_of(event: Any) -> dict[str, bytes]:
    """An event's headers as ``{name: bytes}``, whatever shape Faust handed them in."""
    raw = event.headers or {}
    items = raw.items() if isinstance(raw, Mapping) else raw
    return {str(k): (v if isinstance(v, bytes) else str(v).encode()) for k, v in items}


def attempt_of(event: Any) -> int:
    """Previous attempts recorded in the event's header (0 when absent)."""
    value = headers_of(event).get(ATTEMPT_HEADER, b"0")
    return int(value) if value.isdigit() else 0


def delay_headers(attempt: int, delay_s: float) -> dict[str, bytes]:
    """Headers for a message entering a delay tier."""
    return {
        ATTEMPT_HEADER: str(attempt).encode(),
        NOT_BEFORE_HEADER: f"{time.time() + delay_s:.3f}".encode(),
    }


class InOrderAcks:
    """Acks events in the order they arrived, each once everything before it is done."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.pending: deque[tuple[Any, asyncio.Event]] = deque()
        self.lock = asyncio.Lock()

    def track(self, event: Any) -> asyncio.Event:
        done = asyncio.Event()
        self.pending.append((event, done))
        return done

    async def release(self) -> None:
        async with self.lock:
            while self.pending and self.pending[0][1].is_set():
                event, _ = self.pending.popleft()
                await self.stream.ack(event)


async def process_in_flight(
    stream: Any,
    handle: Callable[[Any], Awaitable[None]],
    *,
    concurrency: int,
    max_batch: int,
    batch_window_s: float,
    shutdown_grace_s: float,
    on_batch: Callable[[Sequence[Any]], None] | None = None,
) -> None:
    """Consume ``stream`` in batches with up to ``concurrency`` handlers in flight, acking
    each event after its handler returns, in arrival order.

    A handler that raises leaves its event unacked (and every later one): the worker stops
    committing and the events go back to the group when it restarts — a failure to publish
    must never become a silent ack. On shutdown or rebalance, handlers in flight get
    ``shutdown_grace_s`` to finish; what is still running is not acked and goes back.
    """
    manual = stream.noack()
    acks = InOrderAcks(manual)
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()

    async def run(event: Any, done: asyncio.Event) -> None:
        try:
            with metrics.IN_FLIGHT.track_inprogress():
                await handle(event)
            done.set()
        except Exception:
            log.exception("handler failed; its event stays unacked until a restart")
            raise
        finally:
            slots.release()
        await acks.release()

    try:
        async for events in manual.noack_take(max_batch, within=batch_window_s):
            if on_batch is not None:
                on_batch(events)
            for event in events:
                await slots.acquire()
                task = asyncio.create_task(run(event, acks.track(event)))
                running.add(task)
                task.add_done_callback(running.discard)
    finally:
        if running:
            log.info("waiting up to %.0f s for %d in flight", shutdown_grace_s, len(running))
            await asyncio.wait(running, timeout=shutdown_grace_s)


def register_in_flight_agent(
    app: faust.App,
    topic: Any,
    name: str,
    handle: Callable[[Any], Awaitable[None]],
    settings: Settings,
    *,
    concurrency: int,
    on_batch: Callable[[Sequence[Any]], None] | None = None,
) -> None:
    """An agent on ``topic`` that runs :func:`process_in_flight` with ``handle``, batching
    and grace periods from ``settings.worker``."""

    @app.agent(topic, name=name)
    async def agent(stream: Any) -> None:
        await process_in_flight(
            stream,
            handle,
            concurrency=concurrency,
            max_batch=settings.runtime.max_batch,
            batch_window_s=settings.runtime.batch_window_s,
            shutdown_grace_s=settings.runtime.shutdown_grace_s,
            on_batch=on_batch,
        )


def register_delay_tiers(
    app: faust.App, tiers: Sequence[Any], target: Any, name_prefix: str
) -> None:
    """One agent per delay tier: wait until the head message is due, forward it to
    ``target`` with its attempt count, then ack. Each tier has one fixed delay, so its
    topic is in due order and waiting for the head never delays a message due earlier."""
    for tier, topic in enumerate(tiers, start=1):
        _register_delay_tier(app, topic, target, f"{name_prefix}.{tier}")


def _register_delay_tier(app: faust.App, topic: Any, target: Any, name: str) -> None:
    @app.agent(topic, name=name)
    async def forward(stream: Any) -> None:
        manual = stream.noack()
        async for event in manual.events():
            headers = headers_of(event)
            due = float(headers.get(NOT_BEFORE_HEADER, b"0") or 0)
            await asyncio.sleep(max(0.0, due - time.time()))
            await target.send(
                key=event.key,
                value=event.value,
                headers={ATTEMPT_HEADER: headers.get(ATTEMPT_HEADER, b"1")},
            )
            await manual.ack(event)


def register_web(app: faust.App, started: float) -> None:
    """``/healthz`` (liveness, assigned partitions, work in flight) and ``/metrics``."""

    @app.page("/healthz")
    async def health(web: Any, request: Any) -> Any:
        assignment = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
        return web.json(
            {
                "status": "ok",
                "app": app.conf.id,
                "worker": worker_id(),
                "uptime_s": round(time.time() - started, 1),
                "assigned_partitions": assignment,
                "in_flight": metrics.gauge_value(metrics.IN_FLIGHT),
            }
        )

    @app.page("/metrics")
    async def prometheus(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; the exposition format is UTF-8.
        media_type = CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4"
        return web.bytes(generate_latest(), content_type=media_type)


def logging_config(settings: Settings) -> dict[str, Any] | None:
    """``dictConfig`` for JSON lines (``runtime.log_format=json``); ``None`` keeps Faust's."""
    if settings.runtime.log_format != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": settings.runtime.log_level.upper()},
    }


def run_app(app: faust.App, settings: Settings) -> None:
    """Run ``app`` in the foreground until SIGTERM/SIGINT."""
    worker = faust.Worker(
        app,
        loglevel=settings.runtime.log_level,
        redirect_stdouts=False,
        logging_config=logging_config(settings),
    )
    worker.execute_from_commandline()
