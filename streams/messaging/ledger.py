"""Asking the ledger: request/reply over Kafka.

A :class:`LedgerClient` sends commands to ``topics.ledger_commands`` keyed by account (so
one ledger agent, the account's owner, applies them in order) and reads its answers from
one partition of ``topics.ledger_replies``, chosen at start; the command names it. That
partition is fetched only while someone waits for an answer — an idle gateway costs the
broker nothing — and its position is kept while paused, so no answer is missed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from pydantic import TypeAdapter, ValidationError

from schemas.errors import ErrorCode
from schemas.events import ImageCompleted, ImageFailed
from schemas.ledger import Command, Refusal, Reply, Settle
from streams.config.settings import Settings
from streams.exceptions import LedgerUnavailableError, QueueUnavailableError
from streams.messaging.kafka import new_producer, new_reader, start_all, stop_task

log = logging.getLogger(__name__)

COMMAND: TypeAdapter[Command] = TypeAdapter(Command)

REFUSAL_CODES: dict[Refusal, ErrorCode] = {
    Refusal.UNKNOWN_ACCOUNT: ErrorCode.ACCOUNT_SUSPENDED,
    Refusal.SUSPENDED: ErrorCode.ACCOUNT_SUSPENDED,
    Refusal.INSUFFICIENT_CREDITS: ErrorCode.INSUFFICIENT_CREDITS,
    Refusal.SUBSCRIPTION_EXPIRED: ErrorCode.SUBSCRIPTION_EXPIRED,
    Refusal.RATE_LIMITED: ErrorCode.RATE_LIMIT_EXCEEDED,
    Refusal.QUOTA_EXHAUSTED: ErrorCode.QUOTA_EXCEEDED,
}
"""The error code of each refusal (every API shape then renders it its own way)."""


def settle_command(result: ImageCompleted | ImageFailed) -> Settle | None:
    """The ``settle`` command a result stands for — a charge on completion, a refund on
    failure — or ``None`` when it holds no credits. Its id derives from the result's event
    id, so a result published again settles nothing twice."""
    if isinstance(result, ImageCompleted):
        credits, outcome = result.payload.credits_charged, "charge"
    else:
        credits, outcome = result.payload.credits_refunded, "refund"
    if credits == 0:
        return None
    return Settle(
        command_id=uuid.uuid5(uuid.NAMESPACE_URL, f"settle:{result.event_id}").hex,
        account=result.account,
        request_id=result.request_id,
        outcome=outcome,
    )


_IDLE_POLL_MS = 200


class LedgerClient:
    """Sends ledger commands and waits for their replies. Start it before use, stop it
    after; ``role`` names its Kafka clients."""

    def __init__(self, settings: Settings, role: str) -> None:
        self.settings = settings
        self.topic = settings.topics.ledger_commands
        self.instance = f"{settings.kafka.client_id}-{role}-{uuid.uuid4().hex[:12]}"
        self.producer = new_producer(settings, f"{role}-ledger")
        self.reader = new_reader(
            settings, f"{role}-ledger", fetch_max_wait_ms=settings.metering.fetch_max_wait_ms
        )
        self.partition = TopicPartition(settings.topics.ledger_replies, 0)
        self._waiters: dict[str, asyncio.Future[Reply]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await start_all(self.producer, self.reader)
        await self.reader.topics()  # refresh cluster metadata
        topic = self.settings.topics.ledger_replies
        count = len(self.reader.partitions_for_topic(topic) or (0,))
        self.partition = TopicPartition(topic, zlib.crc32(self.instance.encode()) % count)
        self.reader.assign([self.partition])
        await self.reader.seek_to_end(self.partition)
        await self.reader.position(self.partition)  # resolve the seek before any command
        self.reader.pause(self.partition)
        self._task = asyncio.create_task(self._run(), name="ledger-replies")

    async def stop(self) -> None:
        await stop_task(self._task)
        await self.reader.stop()
        await self.producer.stop()

    async def ask(self, command: Command) -> Reply:
        """Send ``command`` and wait for the ledger's reply, up to
        ``metering.reply_timeout_s`` (then :class:`LedgerUnavailableError`)."""
        command = command.model_copy(
            update={"reply_to": self.instance, "reply_partition": self.partition.partition}
        )
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiters[command.command_id] = future
        self.reader.resume(self.partition)
        try:
            await self.tell(command)
            timeout = self.settings.metering.reply_timeout_s
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise LedgerUnavailableError(
                    f"the ledger did not answer within {timeout:g} s"
                ) from None
        finally:
            del self._waiters[command.command_id]
            if not self._waiters:
                self.reader.pause(self.partition)

    async def tell(self, command: Command) -> None:
        """Send ``command`` without waiting for a reply (once Kafka has it)."""
        try:
            sent = await self.producer.send(
                self.topic,
                COMMAND.dump_json(command),
                key=command.account.encode(),
            )
            await sent
        except KafkaError as exc:
            raise QueueUnavailableError(f"cannot reach the ledger right now: {exc}") from exc

    async def _run(self) -> None:
        while True:
            try:
                batches = await self.reader.getmany(self.partition, timeout_ms=_IDLE_POLL_MS)
            except KafkaError as exc:  # the broker restarting: keep going
                log.warning("ledger replies: %s", exc)
                await asyncio.sleep(1)
                continue
            for record in batches.get(self.partition, ()):
                if record.key != self.instance.encode():
                    continue
                try:
                    reply = Reply.model_validate_json(record.value or b"")
                except ValidationError:
                    log.warning("ignoring a malformed ledger reply at %s", record.offset)
                    continue
                waiter = self._waiters.get(reply.command_id)
                if waiter is not None and not waiter.done():
                    waiter.set_result(reply)
