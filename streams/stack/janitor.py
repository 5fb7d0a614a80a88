"""Retention and compaction of the embedded broker's log, run inside the log store.

Tansu lists a partition's batches on every fetch that is behind the high watermark, and
never deletes one: left alone the log, and the cost of every read, grows with the history
(measured: 25,575 objects after an hour of traffic, and the idle stack at 1.8 cores). Every
``log_janitor_interval_s`` the janitor deletes, per partition (never its newest batch):

- a batch every consumer group of the topic has committed past (its successor's offset is
  at or below each group's committed offset), once it is ``log_consumed_grace_s`` old —
  groups that have not committed for ``log_group_ttl_s`` do not count;
- any batch older than the topic's retention (``log_retention_s``; the ledger's replies,
  read within ``metering.reply_timeout_s`` or never, that);
- in a changelog topic (``*-changelog``: the durable state of Faust tables, read from the
  start when a table recovers) instead, a batch whose every record has a newer record with
  the same key — Kafka's log compaction.

Deleting below every group's committed offset and past the retention is what Kafka does;
a consumer asking for an offset that is gone gets the next batch there is.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiokafka.record.default_records import DefaultRecordBatch

from streams.config.settings import Settings
from streams.stack.objects import Objects

log = logging.getLogger(__name__)

_RECORDS = re.compile(
    r"^clusters/(?P<cluster>[^/]+)/topics/(?P<topic>[^/]+)/partitions/(?P<partition>\d+)"
    r"/records$"
)
_COMMITTED = re.compile(
    r"^clusters/(?P<cluster>[^/]+)/groups/consumers/(?P<group>[^/]+)/offsets/(?P<topic>[^/]+)"
    r"/partitions$"
)
_CHANGELOG = "-changelog"

Partition = tuple[str, str, str, str]
"""(bucket, cluster, topic, partition)."""


@dataclass(frozen=True)
class Retention:
    """What the janitor keeps (``stack`` settings)."""

    retention_s: float
    consumed_grace_s: float
    group_ttl_s: float
    interval_s: float
    topic_retention_s: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: Settings) -> Retention:
        stack = settings.stack
        return cls(
            retention_s=stack.log_retention_s,
            consumed_grace_s=stack.log_consumed_grace_s,
            group_ttl_s=stack.log_group_ttl_s,
            interval_s=stack.log_janitor_interval_s,
            # A reply is read within the asker's timeout, or never.
            topic_retention_s={settings.topics.ledger_replies: settings.metering.reply_timeout_s},
        )


@dataclass(frozen=True)
class Batch:
    key: str
    offset: int


class Janitor:
    """Applies :class:`Retention` to an :class:`~streams.stack.objects.Objects`."""

    def __init__(
        self, objects: Objects, retention: Retention, clock: Callable[[], float] = time.time
    ) -> None:
        self.objects = objects
        self.retention = retention
        self.clock = clock
        self.task: asyncio.Task[None] | None = None
        self._record_keys: dict[tuple[str, str], frozenset[bytes | None]] = {}
        self._matches: dict[tuple[str, str], re.Match[str] | None] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.retention.interval_s)
            try:
                deleted = self.sweep()
            except Exception:  # the store must keep serving whatever the janitor meets
                log.exception("the log janitor failed this round; it tries again")
                continue
            if deleted:
                log.info("log janitor: deleted %d record batches", deleted)

    def sweep(self) -> int:
        """One round; how many batches it deleted. It walks each partition's batches from
        the oldest and stops at the first it keeps, so a round costs what it deletes plus
        one look per partition, not the size of the log."""
        now = self.clock()
        floors = self._floors(now)
        deleted = 0
        for (bucket, folder), names in list(self.objects.folders.items()):
            match = self._match(_RECORDS, folder)
            if match is None:
                continue
            partition = (bucket, match["cluster"], match["topic"], match["partition"])
            found = [Batch(f"{folder}/{name}", int(name[:20])) for name in names]
            topic = match["topic"]
            if topic.endswith(_CHANGELOG):
                doomed = self._superseded(bucket, found, now)
            else:
                doomed = self._expired(bucket, topic, found, floors.get(partition), now)
            for batch in doomed:
                self.objects.delete(bucket, batch.key)
                self._record_keys.pop((bucket, batch.key), None)
            deleted += len(doomed)
        return deleted

    def _match(self, pattern: re.Pattern[str], folder: str) -> re.Match[str] | None:
        key = (pattern.pattern, folder)
        if key not in self._matches:
            self._matches[key] = pattern.match(folder)
        return self._matches[key]

    def _floors(self, now: float) -> dict[Partition, int]:
        """Per partition, the lowest offset a live group has committed."""
        floors: dict[Partition, int] = {}
        ttl = self.retention.group_ttl_s
        for (bucket, folder), names in list(self.objects.folders.items()):
            match = self._match(_COMMITTED, folder)
            if match is None:
                continue
            for name in names:
                key = f"{folder}/{name}"
                entry = self.objects.get(bucket, key)
                if entry is None or now - entry.mtime >= ttl:
                    continue
                committed = self._committed(bucket, key)
                if committed is None:
                    continue
                partition = (bucket, match["cluster"], match["topic"], name.removesuffix(".json"))
                floors[partition] = min(floors.get(partition, committed), committed)
        return floors

    def _committed(self, bucket: str, key: str) -> int | None:
        try:
            value = json.loads(self.objects.path(bucket, key).read_bytes()).get("offset")
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, int) else None

    def _expired(
        self, bucket: str, topic: str, found: list[Batch], floor: int | None, now: float
    ) -> list[Batch]:
        retention = self.retention.topic_retention_s.get(topic, self.retention.retention_s)
        doomed = []
        for batch, successor in itertools.pairwise(found):
            age = now - self._mtime(bucket, batch)
            consumed = floor is not None and successor.offset <= floor
            if not (age > retention or (consumed and age > self.retention.consumed_grace_s)):
                break  # the rest are younger, and no more read
            doomed.append(batch)
        return doomed

    def _mtime(self, bucket: str, batch: Batch) -> float:
        entry = self.objects.get(bucket, batch.key)
        return entry.mtime if entry is not None else 0.0

    def _superseded(self, bucket: str, found: list[Batch], now: float) -> list[Batch]:
        """Changelog batches whose every key has a later record (never the newest)."""
        keys = [self._keys_of(bucket, batch) for batch in found]
        last: dict[bytes | None, int] = {}
        for index, batch_keys in enumerate(keys):
            for record_key in batch_keys:
                last[record_key] = index
        return [
            batch
            for index, (batch, batch_keys) in enumerate(zip(found[:-1], keys, strict=False))
            if now - self._mtime(bucket, batch) > self.retention.consumed_grace_s
            and batch_keys
            and all(last[record_key] > index for record_key in batch_keys)
        ]

    def _keys_of(self, bucket: str, batch: Batch) -> frozenset[bytes | None]:
        """The record keys of a batch (read once: batches never change); empty if it
        cannot be read, so it is kept."""
        cached = self._record_keys.get((bucket, batch.key))
        if cached is None:
            try:
                data = self.objects.path(bucket, batch.key).read_bytes()
                cached = frozenset(record.key for record in DefaultRecordBatch(bytearray(data)))
            except Exception:  # unreadable or compressed in a way we do not read: keep it
                cached = frozenset()
            self._record_keys[(bucket, batch.key)] = cached
        return cached
