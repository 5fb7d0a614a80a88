"""The batch service (``cutstream batches``): the planner and the tracker, one Faust app in
its own consumer group (``batches.group_id``).

- *plan* reads ``topics.batches`` (``batch.submitted``, keyed by account, so one process
  sees all of an account's batches and its limits are exact), holds up to
  ``batches.plan_queue`` of them and works ``batches.plan_at_once`` at a time, shared
  fairly between accounts (:mod:`streams.batches.planner`); each is acked, in order,
  once planned, and a crash re-plans from the last checkpoint. Planning a large batch
  rightly takes hours, so its wait does not count as a stall in ``/healthz``.
- *track* reads ``topics.batch_progress`` a window at a time and acks a window once it is
  written (:mod:`streams.batches.tracker`).

Run one or more: partitions spread batches over them.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import faust
from pydantic import TypeAdapter, ValidationError

from schemas.batches import (
    BatchCompleted,
    BatchItemDone,
    BatchPlanned,
    BatchProgressEvent,
    BatchSubmitted,
)
from streams.batches.admission import Admission
from streams.batches.planner import Planner
from streams.batches.tracker import Tracker
from streams.config.settings import Settings
from streams.messaging.faustkit import create_app, raw_topic, register_web, run_app
from streams.messaging.inflight import (
    dead_lettering,
    handle_or_dead_letter,
    register_in_flight_agent,
)
from streams.messaging.records import record_of
from streams.net.fetch import Fetcher, FetchLimits
from streams.net.urlguard import UrlPolicy
from streams.storage.accounts import AccountViews
from streams.storage.batches import BatchStore
from streams.storage.jobs import JobStore
from streams.storage.s3 import S3ObjectStore

log = logging.getLogger(__name__)

PROGRESS_EVENTS = TypeAdapter[BatchItemDone | BatchPlanned](BatchProgressEvent)


def register_planner(app: faust.App, planner: Planner, settings: Settings) -> None:
    async def plan(event: Any) -> None:
        submitted = BatchSubmitted.model_validate_json(record_of(event).value)
        await planner.plan(submitted.account, submitted.batch_id)

    register_in_flight_agent(
        app,
        raw_topic(app, settings.topics.batches),
        "cutstream.batches.plan",
        plan,
        settings,
        concurrency=settings.batches.plan_queue,
        dead_letters=raw_topic(app, settings.topics.dead_letter),
        watched=False,
        shutdown_grace_s=0,  # planning resumes at its checkpoint: stop at once
    )


def register_tracker(app: faust.App, tracker: Tracker, settings: Settings) -> None:
    topic = raw_topic(app, settings.topics.batch_progress)
    poison = dead_lettering(raw_topic(app, settings.topics.dead_letter), settings)

    @app.agent(topic, name="cutstream.batches.track")
    async def track(stream: Any) -> None:
        manual = stream.noack()
        async for window in manual.noack_take(1000, within=settings.batches.tracker_window_s):
            events = []
            for event in window:
                try:
                    events.append(PROGRESS_EVENTS.validate_json(record_of(event).value))
                except ValidationError as exc:
                    await poison(event, exc)  # not ours to count: kept as a dead letter

            async def apply(_: Any, parsed: list[Any] = events) -> None:
                await tracker.apply(parsed)

            # Transient failures (the store down) run the window again, unacked.
            await handle_or_dead_letter(window[-1], apply, poison)
            for event in window:
                await manual.ack(event)


def build_batches_app(settings: Settings) -> faust.App:
    """The complete batch service."""
    app = create_app(
        settings,
        settings.batches.group_id,
        settings.batches.web_port,
        fetch_max_wait_ms=settings.batches.fetch_max_wait_ms,
    )
    store = S3ObjectStore(settings)
    batches = BatchStore(store, settings.s3.jobs_bucket, settings.s3.output_bucket)
    fetcher = Fetcher(
        UrlPolicy.of(settings.urls),
        FetchLimits(
            timeout_s=settings.urls.fetch_timeout_s,
            max_redirects=settings.urls.max_redirects,
        ),
    )
    topics: dict[str, Any] = {}

    async def send(name: str, key: bytes, value: bytes) -> None:
        if name not in topics:
            topics[name] = raw_topic(app, name)
        await topics[name].send(key=key, value=value)

    async def flush() -> None:
        await app.producer.flush()

    completed = raw_topic(app, settings.topics.batch_completed)

    async def publish(event: BatchCompleted) -> None:
        await completed.send(key=event.batch_id.encode(), value=event.model_dump_json().encode())

    admission = Admission(
        settings,
        AccountViews(store, settings.s3.jobs_bucket),
        JobStore(store, settings.s3.jobs_bucket),
    )
    planner = Planner(settings, store, batches, fetcher, admission, send, flush)
    register_planner(app, planner, settings)
    tracker = Tracker(
        batches,
        store.public(settings),
        timedelta(seconds=settings.outputs.url_expiry_s),
        publish,
    )
    register_tracker(app, tracker, settings)
    if settings.batches.web_port > 0:
        register_web(app, time.time(), settings.runtime.max_unacked_age_s)
    return app


def run_batches(settings: Settings) -> None:
    """Run a batch service in the foreground until SIGTERM/SIGINT."""
    run_app(build_batches_app(settings), settings)
