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
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiokafka.record.default_records import DefaultRecordBatch

from streams.config.settings import Settings
from streams.stack.logstore import Objects

log = logging.getLogger(__name__)

_BATCH = re.compile(
    r"^clusters/(?P<cluster>[^/]+)/topics/(?P<topic>[^/]+)/partitions/(?P<partition>\d+)"
    r"/records/(?P<offset>\d{20})\.batch$"
)
_COMMITTED = re.compile(
    r"^clusters/(?P<cluster>[^/]+)/groups/consumers/(?P<group>[^/]+)/offsets/(?P<topic>[^/]+)"
    r"/partitions/(?P<partition>\d+)\.json$"
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
    mtime: float


class Janitor:
    """Applies :class:`Retention` to an :class:`~streams.stack.logstore.Objects`."""

    def __init__(
        self, objects: Objects, retention: Retention, clock: Callable[[], float] = time.time
    ) -> None:
        self.objects = objects
        self.retention = retention
        self.clock = clock
        self.task: asyncio.Task[None] | None = None
        self._record_keys: dict[tuple[str, str], frozenset[bytes | None]] = {}

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
        """One round; how many batches it deleted."""
        now = self.clock()
        batches, floors = self._scan(now)
        deleted = 0
        for partition, found in batches.items():
            found.sort(key=lambda batch: batch.offset)
            bucket, _, topic, _ = partition
            if topic.endswith(_CHANGELOG):
                doomed = self._superseded(bucket, found, now)
            else:
                doomed = self._expired(topic, found, floors.get(partition), now)
            for batch in doomed:
                self.objects.delete(bucket, batch.key)
                self._record_keys.pop((bucket, batch.key), None)
            deleted += len(doomed)
        return deleted

    def _scan(self, now: float) -> tuple[dict[Partition, list[Batch]], dict[Partition, int]]:
        """Every partition's batches, and the lowest offset committed by a live group."""
        batches: dict[Partition, list[Batch]] = defaultdict(list)
        floors: dict[Partition, int] = {}
        ttl = self.retention.group_ttl_s
        for (bucket, key), entry in list(self.objects.entries.items()):
            if match := _BATCH.match(key):
                partition = (bucket, match["cluster"], match["topic"], match["partition"])
                batches[partition].append(Batch(key, int(match["offset"]), entry.mtime))
            elif (match := _COMMITTED.match(key)) and now - entry.mtime < ttl:
                committed = self._committed(bucket, key)
                if committed is None:
                    continue
                partition = (bucket, match["cluster"], match["topic"], match["partition"])
                floors[partition] = min(floors.get(partition, committed), committed)
        return batches, floors

    def _committed(self, bucket: str, key: str) -> int | None:
        try:
            value = json.loads(self.objects.path(bucket, key).read_bytes()).get("offset")
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, int) else None

    def _expired(
        self, topic: str, found: list[Batch], floor: int | None, now: float
    ) -> list[Batch]:
        retention = self.retention.topic_retention_s.get(topic, self.retention.retention_s)
        doomed = []
        for batch, successor in itertools.pairwise(found):
            age = now - batch.mtime
            consumed = floor is not None and successor.offset <= floor
            if age > retention or (consumed and age > self.retention.consumed_grace_s):
                doomed.append(batch)
        return doomed

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
            if now - batch.mtime > self.retention.consumed_grace_s
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
