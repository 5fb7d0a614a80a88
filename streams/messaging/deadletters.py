"""Dead letters from the operator's side (``cutstream dlq``): read them, look at one,
replay them.

Both dead-letter topics are read from the beginning until a fetch comes back empty,
outside any consumer group. A letter's id is its ``event_id``.

Replaying a request letter publishes its original request again to the requests topic,
with no attempt header (so it starts at attempt 1), after putting its job record back to
``accepted`` when the letter left it ``failed`` — otherwise a worker would answer the replay
with the recorded failure. Replaying a webhook letter publishes its delivery task again to
the deliveries topic (attempt 1). Each replay is recorded (``_dlq/replays/<event_id>.json``
in the jobs bucket, created only if absent): a letter replayed once is refused the second
time unless forced. A letter whose original was truncated (it was larger than a letter
may hold) or never was a valid request cannot be replayed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from aiokafka import TopicPartition
from pydantic import ValidationError

from schemas.events import DeadLetter, ImageRequested, utc_now
from schemas.jobs import JobStatus
from streams.config.settings import Settings
from streams.messaging.kafka import new_producer, new_reader, start_all
from streams.storage import jobs
from streams.storage.base import ObjectStore
from streams.storage.jobs import JobStore
from streams.storage.layout import dlq_replay_key

log = logging.getLogger(__name__)

Kind = Literal["requests", "webhooks"]
_QUIET_MS = 1500
"""A fetch that brings nothing for this long ends a read."""
UNREPLAYABLE = frozenset({"unparseable", "invalid_request", "unsupported_version"})
"""Reasons whose original would be dead-lettered again as it is."""


@dataclass(frozen=True)
class Replay:
    """What replaying one letter did (or, in a dry run, would do)."""

    letter: DeadLetter
    outcome: Literal["replayed", "would_replay", "already_replayed", "not_replayable"]
    detail: str = ""


class DeadLetters:
    """Reads and replays the dead letters of one kind. Use as ``async with``."""

    def __init__(self, settings: Settings, store: ObjectStore, kind: Kind) -> None:
        self.settings = settings
        self.store = store
        self.kind = kind
        topics = settings.topics
        self.topic = topics.dead_letter if kind == "requests" else topics.webhook_dead_letter
        self.target = topics.requests if kind == "requests" else topics.webhook_deliveries
        self.jobs = JobStore(store, settings.s3.jobs_bucket)
        self.producer = new_producer(settings, "dlq")

    async def __aenter__(self) -> DeadLetters:
        await start_all(self.producer)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def letters(
        self, since: datetime | None = None, reasons: frozenset[str] = frozenset()
    ) -> list[DeadLetter]:
        """Every letter in the topic now, oldest first, optionally only those created at
        or after ``since`` and with one of ``reasons``."""
        found = [
            letter
            for letter in await self._read()
            if (since is None or letter.created_at >= since)
            and (not reasons or letter.reason in reasons)
        ]
        return sorted(found, key=lambda letter: letter.created_at)

    async def _read(self) -> list[DeadLetter]:
        """Every letter, read from offset 0 until a fetch comes back empty (end offsets
        are not to be trusted on every broker: Tansu's grow by one per produce request)."""
        reader = new_reader(self.settings, "dlq")
        await start_all(reader)
        try:
            await reader.topics()
            partitions = [
                TopicPartition(self.topic, p)
                for p in sorted(reader.partitions_for_topic(self.topic) or ())
            ]
            if not partitions:
                return []
            reader.assign(partitions)
            for partition in partitions:
                reader.seek(partition, 0)
            letters: list[DeadLetter] = []
            while batches := await reader.getmany(timeout_ms=_QUIET_MS):
                for records in batches.values():
                    for record in records:
                        try:
                            letters.append(DeadLetter.model_validate_json(record.value or b""))
                        except ValidationError:
                            log.warning("%s@%d is not a dead letter", self.topic, record.offset)
            return letters
        finally:
            await reader.stop()

    async def find(self, event_id: str) -> list[DeadLetter]:
        """The letter with this id, or else every letter whose id starts with it (a
        table cut an id short; one match is the letter, several say it is ambiguous)."""
        letters = await self._read()
        exact = [letter for letter in letters if letter.event_id == event_id]
        return exact or [letter for letter in letters if letter.event_id.startswith(event_id)]

    async def replay(self, letter: DeadLetter, *, force: bool, dry_run: bool) -> Replay:
        """Replay one letter (see the module docstring)."""
        original = _original(letter)
        if original is None:
            return Replay(letter, "not_replayable", "its original was truncated")
        if self.kind == "requests" and letter.reason in UNREPLAYABLE:
            return Replay(letter, "not_replayable", f"{letter.reason}: it would fail again")
        key = dlq_replay_key(letter.event_id)
        bucket = self.settings.s3.jobs_bucket
        if not force and await asyncio.to_thread(self.store.exists, bucket, key):
            return Replay(letter, "already_replayed", "replayed before (use --force)")
        if dry_run:
            return Replay(letter, "would_replay")
        request_key = letter.source_key.encode() if letter.source_key else None
        if self.kind == "requests":
            request = ImageRequested.model_validate_json(original)
            await self._reopen(request)
            request_key = request.request_id.encode()
        mark = json.dumps({"event_id": letter.event_id, "replayed_at": utc_now().isoformat()})
        if not force:
            created = await asyncio.to_thread(
                self.store.put_if_absent, bucket, key, mark.encode(), "application/json"
            )
            if not created:
                return Replay(letter, "already_replayed", "replayed meanwhile (use --force)")
        else:
            await asyncio.to_thread(self.store.put, bucket, key, mark.encode(), "application/json")
        await self.producer.send_and_wait(self.target, original, key=request_key)
        return Replay(letter, "replayed", f"to {self.target}")

    async def _reopen(self, request: ImageRequested) -> None:
        """Put a failed job record back to ``accepted`` so the replay runs."""
        record = await self.jobs.get(request.account, request.request_id)
        if record is not None and record.status is JobStatus.FAILED:
            await self.jobs.put(jobs.reopened(record))


def _original(letter: DeadLetter) -> bytes | None:
    if letter.original_truncated:
        return None
    if letter.original_encoding == "base64":
        return base64.b64decode(letter.original)
    return letter.original.encode()
