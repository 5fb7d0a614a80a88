"""The Faust application: topics, the processor agent, and the worker entry point."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import faust

from schemas.events import ImageCompleted
from streams.imaging import build_remover
from streams.objectstore import S3ObjectStore
from streams.processor import Processor
from streams.settings import Settings

log = logging.getLogger(__name__)

PROCESSOR_AGENT = "cutstream.processor"


@dataclass(frozen=True)
class Topics:
    """The Faust topic handles of one app."""

    requests: faust.TopicT
    completed: faust.TopicT
    failed: faust.TopicT


def create_app(settings: Settings) -> faust.App:
    """A Faust app configured for ``settings`` (consumer group = ``worker.group_id``).

    Values are raw bytes: events are parsed by pydantic in the agent, so a malformed
    message becomes a reported failure instead of a crash in Faust's deserializer.
    """
    brokers = [f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")]
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
        web_enabled=False,
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
    )


def register_processor(app: faust.App, topics: Topics, processor: Processor) -> None:
    """Attach the processor agent: one result event per request, keyed by request id."""

    @app.agent(topics.requests, name=PROCESSOR_AGENT)
    async def process(stream: Any) -> None:
        async for raw in stream:
            result = await processor.handle(raw)
            if result is None:
                continue
            target = topics.completed if isinstance(result, ImageCompleted) else topics.failed
            await target.send(
                key=result.request_id.encode(), value=result.model_dump_json().encode()
            )


def build_worker_app(settings: Settings) -> faust.App:
    """The complete processor app: S3 store, model runtime, agent."""
    app = create_app(settings)
    remover = build_remover(settings)
    # Load the default model now: a missing model fails the worker at start, loudly.
    remover.segmenter()
    processor = Processor(
        store=S3ObjectStore(settings),
        remover=remover,
        output_bucket=settings.s3.output_bucket,
        executor=ThreadPoolExecutor(max_workers=1, thread_name_prefix="cutstream-infer"),
    )
    register_processor(app, declare_topics(app, settings), processor)
    return app


def run_worker(settings: Settings) -> None:
    """Run a processor worker in the foreground until SIGTERM/SIGINT."""
    app = build_worker_app(settings)
    worker = faust.Worker(app, loglevel=settings.worker.log_level, redirect_stdouts=False)
    worker.execute_from_commandline()
