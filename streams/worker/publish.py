"""Where a handled message's outcome goes: the processor's topics and the publisher (which
also settles a metered request's credits with the ledger)."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from streams.config.settings import Settings
from streams.messaging.faustkit import raw_topic
from streams.messaging.ledger import COMMAND, settle_command
from streams.messaging.tiers import delay_headers
from streams.worker.handling import Delivery


@dataclass(frozen=True)
class Topics:
    """The processor's topic handles."""

    requests: faust.TopicT
    """Requests, from anybody, and due retries, from the retry tiers."""
    bulk: faust.TopicT
    """The bulk lane: batch items, from the planner."""
    due: faust.TopicT
    """Due retries only (to forward to)."""
    completed: faust.TopicT
    failed: faust.TopicT
    dead_letter: faust.TopicT
    retries: tuple[faust.TopicT, ...]
    batch_progress: faust.TopicT
    ledger: faust.TopicT
    """The ledger's commands: the settlement of a result that holds credits."""


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    return Topics(
        requests=app.topic(
            settings.topics.requests, settings.retry_due_topic, key_type=bytes, value_type=bytes
        ),
        bulk=app.topic(settings.topics.bulk_requests, key_type=bytes, value_type=bytes),
        due=raw_topic(app, settings.retry_due_topic),
        completed=raw_topic(app, settings.topics.completed),
        failed=raw_topic(app, settings.topics.failed),
        dead_letter=raw_topic(app, settings.topics.dead_letter),
        retries=tuple(raw_topic(app, name) for name in settings.retry_topics),
        batch_progress=raw_topic(app, settings.topics.batch_progress),
        ledger=raw_topic(app, settings.topics.ledger_commands),
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
                # Charged on success, refunded on failure: the ledger applies it once (its
                # id derives from the result's, which a republished result keeps).
                if (settle := settle_command(event)) is not None:
                    await self.topics.ledger.send(
                        key=settle.account.encode(), value=COMMAND.dump_json(settle)
                    )
        if delivery.batch_item is not None:
            item = delivery.batch_item
            await self.topics.batch_progress.send(
                key=item.batch_id.encode(), value=item.model_dump_json().encode()
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
                headers=delay_headers(order.attempt, order.delay_s),
            )
