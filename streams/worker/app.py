"""The processor worker: its topics, the processor agent, the retry tiers.

At-least-once with idempotent effects (see :mod:`streams.messaging.faustkit` for the ack
discipline): a crash, a SIGTERM or a rebalance hands unfinished requests back to the group;
the job records make their reprocessing cheap and their outputs identical.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust

from streams import metrics
from streams.config.settings import Settings
from streams.imaging.build import build_remover
from streams.messaging.faustkit import create_app, register_web, run_app, worker_id
from streams.messaging.inflight import Backlog, dead_lettering, register_in_flight_agent
from streams.messaging.records import record_of
from streams.messaging.tiers import attempt_of, register_delay_tiers
from streams.net.fetch import Fetcher, FetchLimits
from streams.net.urlguard import UrlPolicy
from streams.storage.access import ReadAccess, WriteAccess
from streams.storage.batches import BatchStore
from streams.storage.jobs import JobStore
from streams.storage.s3 import S3ObjectStore
from streams.worker.budget import FreedPictures, MemoryBudget
from streams.worker.handling import Inbound, Processor, RetryPolicy
from streams.worker.lanes import Lanes
from streams.worker.publish import Publisher, Topics, declare_topics

log = logging.getLogger(__name__)

PROCESSOR_AGENT = "cutstream.processor"
BULK_AGENT = "cutstream.processor.bulk"


def _inbound(event: Any, due_topic: str) -> Inbound:
    record = record_of(event)
    return Inbound(**vars(record), attempt=attempt_of(event, frozenset({due_topic})))


def register_processor(
    app: faust.App,
    topics: Topics,
    processor: Processor,
    settings: Settings,
    backlog: Backlog | None = None,
) -> None:
    """The processor agents: batches from Kafka, up to ``worker.concurrency`` interactive
    requests and ``batches.bulk_in_flight`` batch items in flight (their model runs
    serialised by the remover, interactive first), results published as they finish, acks
    in arrival order. See :mod:`streams.worker.lanes` for how the lanes share a worker."""
    worker = settings.worker
    publisher = Publisher(topics)
    lanes = Lanes()

    async def handle(event: Any) -> None:
        message = _inbound(event, settings.retry_due_topic)
        async with lanes.interactive_request():
            delivery = await processor.handle(message)
        await publisher.publish(delivery)

    async def handle_bulk(event: Any) -> None:
        await lanes.bulk_turn()
        message = _inbound(event, settings.retry_due_topic)
        await publisher.publish(await processor.handle(message))

    register_in_flight_agent(
        app,
        topics.requests,
        PROCESSOR_AGENT,
        handle,
        settings,
        concurrency=worker.concurrency,
        dead_letters=topics.dead_letter,
        on_batch=lambda events: metrics.BATCH_SIZE.observe(len(events)),
        backlog=backlog,
    )
    register_in_flight_agent(
        app,
        topics.bulk,
        BULK_AGENT,
        handle_bulk,
        settings,
        concurrency=settings.batches.bulk_in_flight,
        dead_letters=topics.dead_letter,
    )


def build_worker_app(settings: Settings) -> faust.App:
    """The complete processor app: S3 store, job records, fetcher, model runtime, agents."""
    # Interactive requests waiting for a slot slow the consumer's fetches down (not batch
    # items: an interactive request may come while a batch runs, and must not wait).
    backlog = Backlog()
    app = create_app(settings, settings.worker.group_id, settings.worker.web_port, backlog=backlog)
    remover = build_remover(settings)
    # Load the default model now: a missing model fails the worker at start, loudly.
    segmenter = remover.segmenter()
    store = S3ObjectStore(settings)
    processor = Processor(
        store=store,
        jobs_store=JobStore(store, settings.s3.jobs_bucket),
        remover=remover,
        fetcher=Fetcher(
            UrlPolicy.of(settings.urls),
            FetchLimits(
                settings.limits.max_input_bytes,
                settings.urls.fetch_timeout_s,
                settings.urls.max_redirects,
                settings.urls.max_per_host,
                settings.urls.max_retry_after_s,
            ),
        ),
        access=ReadAccess(settings.s3, settings.access.read_grants),
        writes=WriteAccess(settings.s3, settings.access.write_grants),
        batches=BatchStore(store, settings.s3.jobs_bucket, settings.s3.output_bucket),
        output_bucket=settings.s3.output_bucket,
        retry=RetryPolicy(tuple(settings.worker.retry_delays_s)),
        executor=ThreadPoolExecutor(
            settings.worker.concurrency, thread_name_prefix="cutstream-img"
        ),
        worker=worker_id(),
        max_message_bytes=settings.kafka.max_message_bytes,
        budget=MemoryBudget(settings.worker.max_in_flight_bytes, FreedPictures()),
        backdrop_cache_bytes=settings.worker.backdrop_cache_bytes,
    )
    topics = declare_topics(app, settings)
    register_processor(app, topics, processor, settings, backlog)
    register_delay_tiers(
        app,
        topics.retries,
        topics.due,
        "cutstream.retry",
        dead_lettering(topics.dead_letter, settings),
    )
    if settings.worker.web_port > 0:
        details = {"model": settings.models.default, "runtime": segmenter.runtime}
        register_web(app, time.time(), settings.runtime.max_unacked_age_s, details)
    return app


def run_worker(settings: Settings) -> None:
    """Run a processor worker in the foreground until SIGTERM/SIGINT."""
    run_app(build_worker_app(settings), settings)
