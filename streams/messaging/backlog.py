"""How many requests are waiting, counted from the topics themselves.

Consumer-group offsets would say it directly, but the embedded broker answers them wrongly
(its high watermark grows by one per produce request however many records it holds, and
it describes groups without assignments; see bench/tansu_quirks.py). So the gateway counts:
every request id seen on the requests topic since it started, until its result is seen on
the result topics. Requests published before the gateway started are not counted, and one
that never gets a result (canceled, dead-lettered) is forgotten after ``ttl_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from schemas.events import ResultEvent
from streams.config.settings import Settings
from streams.messaging.kafka import new_reader, start_all, stop_task

log = logging.getLogger(__name__)

_MAX_TRACKED = 1_000_000
_WAIT_MS = 1000


class Backlog:
    """Request ids published and not answered yet (as far as this process has seen)."""

    def __init__(self, settings: Settings, ttl_s: float = 3600.0) -> None:
        self.topic = settings.topics.requests
        self.ttl_s = ttl_s
        # An estimate may be a second late; each fetch costs the embedded broker CPU.
        self.reader = new_reader(settings, "backlog", fetch_max_wait_ms=_WAIT_MS)
        self._waiting: dict[bytes, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await start_all(self.reader)
        await self.reader.topics()
        partitions = [
            TopicPartition(self.topic, p)
            for p in sorted(self.reader.partitions_for_topic(self.topic) or ())
        ]
        self.reader.assign(partitions)
        await self.reader.seek_to_end(*partitions)
        self._task = asyncio.create_task(self._run(), name="backlog")

    async def stop(self) -> None:
        await stop_task(self._task)
        await self.reader.stop()

    def answered(self, result: ResultEvent) -> None:
        """A result arrived: its request waits no more."""
        self._waiting.pop(result.request_id.encode(), None)

    def waiting(self) -> int:
        """Requests seen and not answered (those older than ``ttl_s`` dropped)."""
        horizon = time.monotonic() - self.ttl_s
        for key in [key for key, seen in self._waiting.items() if seen < horizon]:
            del self._waiting[key]
        return len(self._waiting)

    async def _run(self) -> None:
        while True:
            try:
                batches = await self.reader.getmany(timeout_ms=500)
            except KafkaError as exc:  # the broker restarting: keep going
                log.warning("backlog reader: %s", exc)
                await asyncio.sleep(1)
                continue
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    if record.key is not None and len(self._waiting) < _MAX_TRACKED:
                        self._waiting.setdefault(record.key, now)
