"""The ledger service (``cutstream ledger``): every account's one writer.

A Faust app in its own consumer group (``metering.group_id``) with a changelog-backed table
of account states, keyed by account, and one agent, *apply*, which reads
``topics.ledger_commands`` (keyed by account, so each account's commands reach one agent,
in order) one at a time, applies each with :class:`~streams.ledger.book.Book` and then
writes the account to the table, queues an admitted request on the requests topic (a batch
item on the bulk lane), publishes the usage events and sends the reply. The record is
acked only after all of that, so a crash in between redelivers it and the book answers it
again without applying it twice (the account keeps the offset of the last command it
applied).

Results are settled by the workers that publish them: each result that holds credits comes
with its ``settle`` command (charged on completion, refunded on failure; see
:func:`streams.messaging.ledger.settle_command`), so the ledger reads nothing but its
commands — one topic to poll, at the short wait admission needs.

Every second (``metering.projection_interval_s``) the accounts changed since are written
to the store (:class:`~streams.storage.accounts.AccountViews`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import faust

from streams.config.settings import Settings
from streams.exceptions import StorageUnavailableError
from streams.ledger.book import AccountState, Book
from streams.messaging.faustkit import create_app, raw_topic, register_web, run_app
from streams.messaging.inflight import dead_lettering, handle_or_dead_letter
from streams.messaging.ledger import COMMAND
from streams.storage.accounts import AccountViews
from streams.storage.s3 import S3ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LedgerTopics:
    commands: faust.TopicT
    requests: faust.TopicT
    bulk: faust.TopicT
    replies: faust.TopicT
    usage: faust.TopicT
    dead_letter: faust.TopicT


def declare_topics(app: faust.App, settings: Settings) -> LedgerTopics:
    topics = settings.topics
    return LedgerTopics(
        commands=raw_topic(app, topics.ledger_commands),
        requests=raw_topic(app, topics.requests),
        bulk=raw_topic(app, topics.bulk_requests),
        replies=raw_topic(app, topics.ledger_replies),
        usage=raw_topic(app, topics.usage),
        dead_letter=raw_topic(app, topics.dead_letter),
    )


class Ledger:
    """The table of accounts and what applying a command to it publishes."""

    def __init__(self, book: Book, table: Any, topics: LedgerTopics) -> None:
        self.book = book
        self.table = table
        self.topics = topics
        self.changed: set[str] = set()
        """Accounts changed since the last projection."""

    async def apply(self, event: Any) -> None:
        """Apply one command record (inside the agent's stream: the table write goes to
        the changelog partition of the record's partition)."""
        command = COMMAND.validate_json(event.value or b"")
        key = command.account.encode()
        raw = self.table.get(key)
        state = AccountState.model_validate_json(raw) if raw is not None else None
        outcome = self.book.apply(state, command, offset=event.message.offset)
        if outcome.store and outcome.state is not None:
            self.table[key] = outcome.state.model_dump_json().encode()
            self.changed.add(command.account)
        if outcome.forward is not None:
            request = outcome.forward
            lane = self.topics.bulk if request.payload.batch is not None else self.topics.requests
            await lane.send(
                key=request.request_id.encode(), value=request.model_dump_json().encode()
            )
        for usage in outcome.events:
            await self.topics.usage.send(key=key, value=usage.model_dump_json().encode())
        if command.reply_to is not None:
            await self.topics.replies.send(
                key=command.reply_to.encode(),
                value=outcome.reply.model_dump_json().encode(),
                partition=command.reply_partition,
            )

    def views(self, names: set[str]) -> list[Any]:
        """The current views of the named accounts this process holds."""
        views = []
        for name in names:
            raw = self.table.get(name.encode())
            if raw is not None:
                views.append(self.book.view(AccountState.model_validate_json(raw)))
        return views


def register_ledger(app: faust.App, ledger: Ledger, settings: Settings) -> None:
    topics = ledger.topics
    poison = dead_lettering(topics.dead_letter, settings)

    @app.agent(topics.commands, name="cutstream.ledger.apply")
    async def apply(stream: Any) -> None:
        # One record at a time, acked once applied: the table writes to the changelog
        # partition of the record being iterated (Faust's current event).
        manual = stream.noack()
        async for event in manual.events():
            await handle_or_dead_letter(event, ledger.apply, poison)
            await manual.ack(event)


def register_projection(
    app: faust.App, ledger: Ledger, views: AccountViews, interval_s: float
) -> None:
    @app.timer(interval_s)  # type: ignore[untyped-decorator]
    async def project() -> None:
        changed, ledger.changed = ledger.changed, set()
        for view in ledger.views(changed):
            try:
                await asyncio.to_thread(views.put, view)
            except StorageUnavailableError as exc:
                log.warning("cannot write account %s yet: %s", view.name, exc)
                ledger.changed.add(view.name)


def build_ledger_app(settings: Settings) -> faust.App:
    """The complete ledger app."""
    metering = settings.metering
    app = create_app(
        settings,
        metering.group_id,
        metering.web_port,
        fetch_max_wait_ms=metering.fetch_max_wait_ms,
    )
    table = app.Table(
        "accounts",
        default=None,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
    )
    topics = declare_topics(app, settings)
    ledger = Ledger(Book(metering.plans, metering.accounts), table, topics)
    register_ledger(app, ledger, settings)
    store = S3ObjectStore(settings)
    register_projection(
        app, ledger, AccountViews(store, settings.s3.jobs_bucket), metering.projection_interval_s
    )
    if metering.web_port > 0:
        register_web(app, time.time(), settings.runtime.max_unacked_age_s)
    return app


def run_ledger(settings: Settings) -> None:
    """Run a ledger worker in the foreground until SIGTERM/SIGINT."""
    run_app(build_ledger_app(settings), settings)
