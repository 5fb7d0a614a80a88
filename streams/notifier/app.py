"""The webhook notifier worker: results → delivery tasks → signed POSTs, with retry tiers.

Two agents and the delay tiers, in their own consumer group (``webhooks.group_id``):

- *plan* reads the completed and failed topics and, for requests that asked for a
  webhook, puts a delivery task on ``topics.webhook_deliveries`` (*plan-batches* does the
  same for ``batch.completed`` of batches that asked for one);
- *deliver* makes up to ``webhooks.concurrency`` attempts at once (a slow receiver holds
  one slot, not the others), then puts failed attempts on the retry tier for their attempt
  number — a delay topic, never a sleep in this loop — or, when exhausted or refused,
  publishes a dead letter and a ``webhook.exhausted`` event;
- the retry tiers hand due tasks back to the deliveries topic.

Acks follow :mod:`streams.messaging.faustkit`: after the outcome is published, in arrival order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import faust

from schemas.webhooks import DeliveryTask
from streams.config.settings import Settings
from streams.messaging.faustkit import create_app, raw_topic, register_web, run_app
from streams.messaging.inflight import dead_lettering, register_in_flight_agent
from streams.messaging.records import record_of
from streams.messaging.tiers import attempt_of, delay_headers, register_delay_tiers
from streams.net.urlguard import UrlPolicy
from streams.notifier.delivery import Notifier, dead_letter_for
from streams.notifier.payloads import Payloads
from streams.storage.batches import BatchStore
from streams.storage.jobs import JobStore
from streams.storage.s3 import S3ObjectStore


@dataclass(frozen=True)
class NotifierTopics:
    results: faust.TopicT
    batches: faust.TopicT
    deliveries: faust.TopicT
    retries: tuple[faust.TopicT, ...]
    dead_letter: faust.TopicT
    events: faust.TopicT


def declare_topics(app: faust.App, settings: Settings) -> NotifierTopics:
    topics = settings.topics
    return NotifierTopics(
        results=app.topic(topics.completed, topics.failed, key_type=bytes, value_type=bytes),
        batches=raw_topic(app, topics.batch_completed),
        deliveries=raw_topic(app, topics.webhook_deliveries),
        retries=tuple(raw_topic(app, name) for name in settings.webhook_retry_topics),
        dead_letter=raw_topic(app, topics.webhook_dead_letter),
        events=raw_topic(app, topics.webhook_events),
    )


def register_notifier(
    app: faust.App, topics: NotifierTopics, notifier: Notifier, settings: Settings
) -> None:
    hooks = settings.webhooks
    trusted = frozenset({settings.topics.webhook_deliveries})

    async def plan(event: Any) -> None:
        await send(await notifier.plan(event.value or b""))

    async def plan_batch(event: Any) -> None:
        await send(await notifier.plan_batch(event.value or b""))

    async def send(task: DeliveryTask | None) -> None:
        if task is not None:
            await topics.deliveries.send(
                key=task.subject.encode(), value=task.model_dump_json().encode()
            )

    async def deliver(event: Any) -> None:
        task = DeliveryTask.model_validate_json(event.value or b"")
        attempt = attempt_of(event, trusted) + 1
        result = await notifier.attempt(task, attempt)
        if result.retry_delay_s is not None:
            await topics.retries[attempt - 1].send(
                key=event.key,
                value=event.value,
                headers=delay_headers(attempt, result.retry_delay_s),
            )
        if result.exhausted is not None:
            letter = dead_letter_for(
                record_of(event), task, result.exhausted, settings.kafka.max_message_bytes
            )
            await topics.dead_letter.send(key=event.key, value=letter.model_dump_json().encode())
            await topics.events.send(
                key=event.key, value=result.exhausted.model_dump_json().encode()
            )

    for topic, name, handle in (
        (topics.results, "cutstream.webhooks.plan", plan),
        (topics.batches, "cutstream.webhooks.plan-batches", plan_batch),
        (topics.deliveries, "cutstream.webhooks.deliver", deliver),
    ):
        register_in_flight_agent(
            app,
            topic,
            name,
            handle,
            settings,
            concurrency=hooks.concurrency,
            dead_letters=topics.dead_letter,
        )


def build_notifier_app(settings: Settings) -> faust.App:
    """The complete notifier app."""
    hooks = settings.webhooks
    app = create_app(
        settings, hooks.group_id, hooks.web_port, fetch_max_wait_ms=hooks.fetch_max_wait_ms
    )
    store = S3ObjectStore(settings)
    notifier = Notifier(
        store=store,
        jobs_store=JobStore(store, settings.s3.jobs_bucket),
        batches=BatchStore(store, settings.s3.jobs_bucket, settings.s3.output_bucket),
        payloads=Payloads(store.public(settings), settings.outputs.url_expiry_s),
        settings=hooks,
        policy=UrlPolicy.of(settings.urls),
    )
    topics = declare_topics(app, settings)
    register_notifier(app, topics, notifier, settings)
    register_delay_tiers(
        app,
        topics.retries,
        topics.deliveries,
        "cutstream.webhooks.retry",
        dead_lettering(topics.dead_letter, settings),
    )
    if hooks.web_port > 0:
        register_web(app, time.time(), settings.runtime.max_unacked_age_s)
    return app


def run_notifier(settings: Settings) -> None:
    """Run a notifier worker in the foreground until SIGTERM/SIGINT."""
    run_app(build_notifier_app(settings), settings)
