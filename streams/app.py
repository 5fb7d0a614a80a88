"""The Faust application: topics, the processor agent, the retry agents, the worker.

Delivery guarantee (at-least-once, idempotent effects). Faust acks an event when the agent
moves past it, and ``take()`` acks a whole batch even when the agent is cancelled half way
(a SIGTERM), so the processor uses ``noack_take`` and acks by hand: an event is acked only
after everything it produced (result, retry, dead letter) has been handed to the
producer, and acks go strictly in the order events arrived — so the committed offset never
passes an event still in flight (faust #606 commits past a single in-flight head). Faust
flushes the producer before it commits. A crash, a SIGTERM or a rebalance therefore hands
unfinished requests back to the group; the job records make their reprocessing cheap and
their outputs identical.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams import metrics
from streams.fetch import Fetcher, FetchLimits
from streams.imaging import build_remover
from streams.jobs import JobStore
from streams.objectstore import S3ObjectStore
from streams.processor import Delivery, Inbound, Processor, RetryPolicy
from streams.settings import Settings
from streams.urlguard import UrlPolicy

log = logging.getLogger(__name__)

PROCESSOR_AGENT = "cutstream.processor"
ATTEMPT_HEADER = "cutstream-attempt"
NOT_BEFORE_HEADER = "cutstream-not-before"


@dataclass(frozen=True)
class Topics:
    """The Faust topic handles of one app."""

    requests: faust.TopicT
    completed: faust.TopicT
    failed: faust.TopicT
    dead_letter: faust.TopicT
    retries: tuple[faust.TopicT, ...]


def create_app(settings: Settings) -> faust.App:
    """A Faust app configured for ``settings`` (consumer group = ``worker.group_id``).

    Values are raw bytes: events are parsed by pydantic in the agent, so a malformed
    message becomes a dead letter instead of a crash in Faust's deserializer.
    """
    brokers = [f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")]
    port = settings.worker.web_port
    return faust.App(
        settings.worker.group_id,
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
        datadir=str(settings.state_dir / "faust"),
        store="memory://",
        web_enabled=port > 0,
        web_port=port or None,
        web_bind=settings.worker.web_bind,
        web_host=settings.worker.web_bind,
        autodiscover=False,
    )


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    """Topic handles for the configured names (created by provisioning, not by Faust)."""

    def topic(name: str) -> Any:
        return app.topic(name, key_type=bytes, value_type=bytes)

    return Topics(
        requests=topic(settings.topics.requests),
        completed=topic(settings.topics.completed),
        failed=topic(settings.topics.failed),
        dead_letter=topic(settings.topics.dead_letter),
        retries=tuple(topic(name) for name in settings.retry_topics),
    )


def _headers(event: Any) -> dict[str, bytes]:
    raw = event.headers or {}
    items = raw.items() if isinstance(raw, Mapping) else raw
    return {str(k): (v if isinstance(v, bytes) else str(v).encode()) for k, v in items}


def _inbound(event: Any) -> Inbound:
    message = event.message
    attempt = _headers(event).get(ATTEMPT_HEADER, b"0")
    return Inbound(
        value=event.value or b"",
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        attempt=int(attempt) if attempt.isdigit() else 0,
    )


class Publisher:
    """Hands a :class:`Delivery` to the producer."""

    def __init__(self, topics: Topics) -> None:
        self.topics = topics

    async def publish(self, delivery: Delivery) -> None:
        for event, topic in (
            (delivery.completed, self.topics.completed),
            (delivery.failed, self.topics.failed),
        ):
            if event is not None:
                await topic.send(
                    key=event.request_id.encode(), value=event.model_dump_json().encode()
                )
        if delivery.dead_letter is not None:
            letter = delivery.dead_letter
            await self.topics.dead_letter.send(
                key=(letter.request_id or "").encode() or None,
                value=letter.model_dump_json().encode(),
            )
        if delivery.retry is not None:
            order = delivery.retry
            await self.topics.retries[order.tier - 1].send(
                key=order.key,
                value=order.value,
                headers={
                    ATTEMPT_HEADER: str(order.attempt).encode(),
                    NOT_BEFORE_HEADER: f"{time.time() + order.delay_s:.3f}".encode(),
                },
            )


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


class ByteBudget:
    """Bounds the input bytes held by requests in flight (one oversized request may run
    alone, so nothing can wait forever)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.changed = asyncio.Condition()

    async def acquire(self, size: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.used == 0 or self.used + size <= self.limit)
            self.used += size
            metrics.IN_FLIGHT_BYTES.set(self.used)

    async def release(self, size: int) -> None:
        async with self.changed:
            self.used -= size
            metrics.IN_FLIGHT_BYTES.set(self.used)
            self.changed.notify_all()


def register_processor(
    app: faust.App, topics: Topics, processor: Processor, settings: Settings
) -> None:
    """The processor agent: batches from ``take``, up to ``worker.concurrency`` requests in
    flight (their model runs serialised by the remover), results published as they finish,
    acks in arrival order."""
    worker = settings.worker
    publisher = Publisher(topics)

    @app.agent(topics.requests, name=PROCESSOR_AGENT)
    async def process(stream: Any) -> None:
        manual = stream.noack()
        acks = InOrderAcks(manual)
        slots = asyncio.Semaphore(worker.concurrency)
        budget = ByteBudget(worker.max_in_flight_bytes)
        running: set[asyncio.Task[None]] = set()

        async def run(event: Any, done: asyncio.Event) -> None:
            message = _inbound(event)
            size = len(message.value)
            await budget.acquire(size)
            metrics.IN_FLIGHT.inc()
            try:
                delivery = await processor.handle(message)
                await publisher.publish(delivery)
                done.set()
            finally:
                metrics.IN_FLIGHT.dec()
                await budget.release(size)
                slots.release()
            await acks.release()

        try:
            async for events in manual.noack_take(worker.max_batch, within=worker.batch_window_s):
                metrics.BATCH_SIZE.observe(len(events))
                for event in events:
                    await slots.acquire()
                    task = asyncio.create_task(run(event, acks.track(event)))
                    running.add(task)
                    task.add_done_callback(running.discard)
        finally:
            # Shutdown or rebalance: let what is in flight finish (and be acked) within
            # the grace period; anything still running is not acked and goes back.
            if running:
                log.info(
                    "waiting up to %.0f s for %d request(s)", worker.shutdown_grace_s, len(running)
                )
                await asyncio.wait(running, timeout=worker.shutdown_grace_s)


def register_retries(app: faust.App, topics: Topics) -> None:
    """One agent per retry tier: wait until the message is due, put it back on the
    requests topic with its attempt count, then ack. Tiers have fixed delays, so each
    topic is in due order and waiting for its head never delays a message due earlier."""
    for tier, topic in enumerate(topics.retries, start=1):
        _register_retry_tier(app, topics.requests, tier, topic)


def _register_retry_tier(app: faust.App, requests: Any, tier: int, topic: Any) -> None:
    @app.agent(topic, name=f"cutstream.retry.{tier}")
    async def forward(stream: Any) -> None:
        manual = stream.noack()
        async for event in manual.events():
            headers = _headers(event)
            due = float(headers.get(NOT_BEFORE_HEADER, b"0") or 0)
            await asyncio.sleep(max(0.0, due - time.time()))
            await requests.send(
                key=event.key,
                value=event.value,
                headers={ATTEMPT_HEADER: headers.get(ATTEMPT_HEADER, b"1")},
            )
            await manual.ack(event)


def register_web(app: faust.App, started: float) -> None:
    """``/healthz`` (liveness + what this worker is doing) and ``/metrics`` (Prometheus)."""

    @app.page("/healthz")
    async def health(web: Any, request: Any) -> Any:
        assignment = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
        return web.json(
            {
                "status": "ok",
                "worker": worker_id(),
                "uptime_s": round(time.time() - started, 1),
                "assigned_partitions": assignment,
                "in_flight": metrics.IN_FLIGHT._value.get(),
            }
        )

    @app.page("/metrics")
    async def prometheus(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; the exposition format is UTF-8.
        media_type = CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4"
        return web.bytes(generate_latest(), content_type=media_type)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def build_worker_app(settings: Settings) -> faust.App:
    """The complete processor app: S3 store, job records, fetcher, model runtime, agents."""
    app = create_app(settings)
    remover = build_remover(settings)
    # Load the default model now: a missing model fails the worker at start, loudly.
    remover.segmenter()
    store = S3ObjectStore(settings)
    processor = Processor(
        store=store,
        jobs_store=JobStore(store, settings.s3.jobs_bucket),
        remover=remover,
        fetcher=Fetcher(
            UrlPolicy(settings.urls.allow_http, settings.urls.allow_loopback),
            FetchLimits(
                settings.limits.max_input_bytes,
                settings.urls.fetch_timeout_s,
                settings.urls.max_redirects,
            ),
        ),
        output_bucket=settings.s3.output_bucket,
        retry=RetryPolicy(tuple(settings.worker.retry_delays_s)),
        executor=ThreadPoolExecutor(
            settings.worker.concurrency, thread_name_prefix="cutstream-img"
        ),
        worker=worker_id(),
    )
    topics = declare_topics(app, settings)
    register_processor(app, topics, processor, settings)
    register_retries(app, topics)
    if settings.worker.web_port > 0:
        register_web(app, time.time())
    return app


def logging_config(settings: Settings) -> dict[str, Any] | None:
    """``dictConfig`` for JSON lines (``worker.log_format=json``); ``None`` keeps Faust's."""
    if settings.worker.log_format != "json":
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
        "root": {"handlers": ["stderr"], "level": settings.worker.log_level.upper()},
    }


def run_worker(settings: Settings) -> None:
    """Run a processor worker in the foreground until SIGTERM/SIGINT."""
    app = build_worker_app(settings)
    worker = faust.Worker(
        app,
        loglevel=settings.worker.log_level,
        redirect_stdouts=False,
        logging_config=logging_config(settings),
    )
    worker.execute_from_commandline()
