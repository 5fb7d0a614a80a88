"""What cutstream's Faust apps share: app construction, the web pages, logging, the worker
entry point. Consuming is in :mod:`streams.messaging.inflight` (in-order acks, poison) and
:mod:`streams.messaging.tiers` (delay tiers)."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_kafka
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams import metrics
from streams.config.settings import Settings
from streams.messaging.inflight import UNACKED, Backlog

log = logging.getLogger(__name__)


def worker_id() -> str:
    """This process, as ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class FetchPace:
    """A consumer's fetch wait: ``busy_ms`` while records come, ``idle_ms`` once none has
    come for ``idle_after_s`` (the first record switches back), and ``backlog_ms`` while
    ``backlog`` says a full round of records already waits here. On a broker that answers
    a fetch only when its wait runs out (Tansu), idle fetches are most of what an idle
    service costs, and each fetch is a pass over the consumer's partitions, which buys
    nothing while records already wait here."""

    def __init__(
        self,
        busy_ms: int,
        idle_ms: int,
        idle_after_s: float,
        backlog_ms: int = 0,
        backlog: Backlog | None = None,
    ) -> None:
        self.busy_ms = busy_ms
        self.idle_ms = max(busy_ms, idle_ms)
        self.idle_after_s = idle_after_s
        self.backlog_ms = max(busy_ms, backlog_ms)
        self.backlog = backlog
        self._last_record = time.monotonic()

    def wait_ms(self, records: int, now: float) -> int:
        """The wait for the next fetch, after one that returned ``records`` records."""
        if records:
            self._last_record = now
        if now - self._last_record >= self.idle_after_s:
            return self.idle_ms
        if self.backlog is not None and self.backlog.full():
            return self.backlog_ms
        return self.busy_ms


def _transport(app: faust.App, pace: FetchPace) -> faust_kafka.Transport:
    """Faust's Kafka transport, its consumer's fetch wait paced by ``pace`` (Faust fixes
    it at 1500 ms, which on a broker that answers fetches only when the wait runs out —
    Tansu — is the latency of every hop)."""

    class ConsumerThread(faust_kafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(
            self, transport: faust_kafka.Transport
        ) -> aiokafka.AIOKafkaConsumer:
            consumer = super()._create_worker_consumer(transport)
            # Read by AIOKafkaConsumer.start() when it builds its fetcher.
            consumer._fetch_max_wait_ms = pace.busy_ms
            return consumer

        async def _fetch_records(
            self, consumer: aiokafka.AIOKafkaConsumer, *args: Any, **kwargs: Any
        ) -> Any:
            records = await super()._fetch_records(consumer, *args, **kwargs)
            count = sum(len(batch) for batch in records.values())
            # The fetcher reads this each time it builds a request.
            consumer._fetcher._fetch_max_wait_ms = pace.wait_ms(count, time.monotonic())
            return records

    class WaitingConsumer(faust_kafka.Consumer):
        def _new_consumer_thread(self) -> ConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(faust_kafka.Transport):
        Consumer = WaitingConsumer

    return Transport(app.conf.broker_consumer, app)


def create_app(
    settings: Settings,
    group_id: str,
    web_port: int,
    fetch_max_wait_ms: int | None = None,
    backlog: Backlog | None = None,
) -> faust.App:
    """A Faust app in consumer group ``group_id``, configured from ``settings``; its
    consumer's fetches wait at most ``fetch_max_wait_ms`` (default
    ``kafka.fetch_max_wait_ms``) while records come, ``kafka.idle_fetch_max_wait_ms``
    once none has come for ``kafka.idle_after_s``, and ``kafka.backlog_fetch_max_wait_ms``
    while an agent reporting to ``backlog`` has a full round of records waiting.

    Values are raw bytes: events are parsed by pydantic in the agents, so a malformed
    message becomes a dead letter instead of a crash in Faust's deserializer.
    """
    brokers = [f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")]
    datadir = settings.state_dir / "faust" / group_id
    datadir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    app = faust.App(
        group_id,
        broker=brokers,
        broker_client_id=settings.kafka.client_id,
        broker_session_timeout=settings.kafka.session_timeout_s,
        broker_rebalance_timeout=settings.kafka.rebalance_timeout_s,
        broker_heartbeat_interval=settings.kafka.heartbeat_interval_s,
        producer_acks=-1,
        producer_max_request_size=settings.kafka.max_message_bytes,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        datadir=str(datadir),
        store="memory://",
        web_enabled=web_port > 0,
        web_port=web_port or None,
        web_bind=settings.runtime.web_bind,
        web_host=settings.runtime.web_bind,
        autodiscover=False,
    )
    busy_ms = fetch_max_wait_ms or settings.kafka.fetch_max_wait_ms
    idle_ms = settings.kafka.idle_fetch_max_wait_ms or busy_ms
    pace = FetchPace(
        busy_ms,
        idle_ms,
        settings.kafka.idle_after_s,
        settings.kafka.backlog_fetch_max_wait_ms,
        backlog,
    )
    app.transport = _transport(app, pace)
    return app


def raw_topic(app: faust.App, name: str) -> Any:
    """A topic handle of raw bytes (created by provisioning, not by Faust)."""
    return app.topic(name, key_type=bytes, value_type=bytes)


def register_web(
    app: faust.App,
    started: float,
    max_unacked_age_s: float,
    details: Mapping[str, str] | None = None,
) -> None:
    """``/healthz`` and ``/metrics``. Health answers 503 ``stalled`` while a record has
    waited unacknowledged longer than ``max_unacked_age_s`` (a handler stuck, Kafka or the
    store unreachable for that long); ``details`` are shown as they are (e.g. the model
    and what runs it)."""

    @app.page("/healthz")
    async def health(web: Any, request: Any) -> Any:
        assignment = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
        oldest = UNACKED.oldest_age_s()
        metrics.OLDEST_UNACKED.set(oldest)
        stalled = oldest > max_unacked_age_s
        return web.json(
            {
                "status": "stalled" if stalled else "ok",
                "app": app.conf.id,
                "worker": worker_id(),
                "uptime_s": round(time.time() - started, 1),
                "assigned_partitions": assignment,
                "in_flight": metrics.gauge_value(metrics.IN_FLIGHT),
                "oldest_unacked_s": round(oldest, 1),
                **(details or {}),
            },
            status=503 if stalled else 200,
        )

    @app.page("/metrics")
    async def prometheus(web: Any, request: Any) -> Any:
        metrics.OLDEST_UNACKED.set(UNACKED.oldest_age_s())
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
