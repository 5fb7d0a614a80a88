"""Reading results back: the completed and failed topics, from their current end.

:class:`ResultWatcher` reads them in batches (the client keeps the ones it submitted);
:class:`ResultDispatcher` runs one watcher for a whole process and hands each result to
the request waiting for it (the gateway's synchronous routes: request/reply over Kafka).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from schemas.events import RESULT_EVENTS, ResultEvent
from streams.config.settings import Settings
from streams.messaging.kafka import new_reader, start_all, stop_task

log = logging.getLogger(__name__)

_POLL_MS = 500


class ResultWatcher:
    """Reads the completed and failed topics from their current end.

    Start it *before* publishing requests: results published after :meth:`start` returns
    are never missed, because every partition's position is fixed at start.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = (settings.topics.completed, settings.topics.failed)
        self.consumer = new_reader(settings, "watcher")

    async def start(self) -> None:
        await start_all(self.consumer)
        await self.consumer.topics()  # refresh cluster metadata
        partitions = [
            TopicPartition(topic, partition)
            for topic in self.topics
            for partition in sorted(self.consumer.partitions_for_topic(topic) or ())
        ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for partition in partitions:  # resolve the lazy seek now, before anything is sent
            await self.consumer.position(partition)

    async def stop(self) -> None:
        await self.consumer.stop()

    def fetch_wait_ms(self, wait_ms: int) -> None:
        """What the next fetches wait at the broker (read by the fetcher for each request)."""
        self.consumer._fetcher._fetch_max_wait_ms = wait_ms

    async def next_batch(self, timeout_ms: int = _POLL_MS) -> list[ResultEvent]:
        """The results that arrived since the last call (waits up to ``timeout_ms``).
        Records that are not result events are logged and skipped."""
        events: list[ResultEvent] = []
        batches = await self.consumer.getmany(timeout_ms=timeout_ms)
        for records in batches.values():
            for record in records:
                try:
                    events.append(RESULT_EVENTS.validate_json(record.value))
                except ValidationError:
                    log.warning("ignoring malformed result at %s", record.offset)
        return events


class ResultDispatcher:
    """One watcher per process; each result goes to the request waiting for it.

    ``on_result`` sees every result (waited for or not), e.g. to measure the rate.
    """

    def __init__(
        self, settings: Settings, on_result: Callable[[ResultEvent], None] | None = None
    ) -> None:
        self.watcher = ResultWatcher(settings)
        self.on_result = on_result
        self._waiters: dict[tuple[str, str], asyncio.Future[ResultEvent]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.watcher.start()
        self._task = asyncio.create_task(self._run(), name="result-dispatcher")

    async def stop(self) -> None:
        await stop_task(self._task)
        await self.watcher.stop()

    @asynccontextmanager
    async def awaiting(
        self, account: str, request_id: str
    ) -> AsyncIterator[asyncio.Future[ResultEvent]]:
        """A future for the result of ``request_id``, registered on entry — enter *before*
        publishing the request so its result cannot be missed."""
        key = (account, request_id)
        future: asyncio.Future[ResultEvent] = asyncio.get_running_loop().create_future()
        self._waiters[key] = future
        try:
            yield future
        finally:
            self._waiters.pop(key, None)

    async def _run(self) -> None:
        kafka = self.watcher.settings.kafka
        waiting_ms, idle_ms = kafka.fetch_max_wait_ms, kafka.idle_fetch_max_wait_ms
        while True:
            # Low latency only while a request waits (it registers before it publishes,
            # and its result is at least a ledger and a worker hop away).
            self.watcher.fetch_wait_ms(waiting_ms if self._waiters or not idle_ms else idle_ms)
            try:
                events = await self.watcher.next_batch()
            except KafkaError as exc:  # the broker restarting: keep going
                log.warning("result consumer: %s", exc)
                await asyncio.sleep(1)
                continue
            for event in events:
                if self.on_result is not None:
                    self.on_result(event)
                waiter = self._waiters.get((event.account, event.request_id))
                if waiter is not None and not waiter.done():
                    waiter.set_result(event)
