"""A Kafka/S3 client for producers: upload inputs, publish requests, collect results.

Used by ``cutstream submit``; importable by pipelines that want the same behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from schemas.events import (
    RESULT_EVENTS,
    ImageCompleted,
    ImageRequest,
    ImageRequested,
    ResultEvent,
    S3Object,
)
from schemas.options import RemovalOptions
from streams.config.settings import Settings
from streams.exceptions import StorageUnavailableError, SubmitTimeoutError
from streams.local import plan
from streams.net.urlguard import UrlPolicy, resolve
from streams.storage.base import ObjectStore
from streams.storage.jobs import JobStore, accepted

log = logging.getLogger(__name__)

_UPLOADS_AT_ONCE = 8

T = TypeVar("T")


def new_request_id() -> str:
    """A fresh, key-safe request id."""
    return f"req_{uuid.uuid4().hex}"


class ResultWatcher:
    """Reads the completed and failed topics from their current end.

    Start it *before* publishing requests: results published after :meth:`start` returns
    are never missed, because every partition's position is fixed at start.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = (settings.topics.completed, settings.topics.failed)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id=f"{settings.kafka.client_id}-watcher",
            enable_auto_commit=False,
            group_id=None,
        )

    async def start(self) -> None:
        await self.consumer.start()
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

    async def results(self, request_ids: set[str], timeout: float) -> AsyncIterator[ResultEvent]:
        """Yield the first result for each id in ``request_ids`` as it arrives.

        Raises :class:`SubmitTimeoutError` naming what is still pending after ``timeout``.
        """
        pending = set(request_ids)
        deadline = time.monotonic() + timeout
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SubmitTimeoutError(
                    f"no result within {timeout:.0f} s for {len(pending)} request(s): "
                    + ", ".join(sorted(pending))
                )
            batches = await self.consumer.getmany(timeout_ms=int(min(remaining, 1.0) * 1000))
            for records in batches.values():
                for record in records:
                    try:
                        event = RESULT_EVENTS.validate_json(record.value)
                    except ValidationError:
                        log.warning("ignoring malformed result at %s", record.offset)
                        continue
                    if event.request_id in pending:
                        pending.discard(event.request_id)
                        yield event


@dataclass(frozen=True)
class Outcome:
    """What happened to one submitted file."""

    source: Path
    request_id: str
    event: ResultEvent
    saved_to: Path | None


def _store_retries(patience_s: float) -> AsyncRetrying:
    """Retry transient object-store errors with exponential backoff for ``patience_s``."""
    return AsyncRetrying(
        retry=retry_if_exception_type(StorageUnavailableError),
        wait=wait_exponential(multiplier=0.25, max=5),
        stop=stop_after_delay(patience_s),
        reraise=True,
    )


class Client:
    """Submits local files through Kafka and S3 and downloads the results.

    Object-store calls are retried while the store is briefly unavailable (up to
    ``store_patience_s``), as the workers do with their retry topics.
    """

    def __init__(
        self, settings: Settings, store: ObjectStore, store_patience_s: float = 60
    ) -> None:
        self.settings = settings
        self.store = store
        self.store_patience_s = store_patience_s

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        async for attempt in _store_retries(self.store_patience_s):
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity reraises")

    async def submit_files(
        self,
        sources: Sequence[Path],
        out_dir: Path,
        options: RemovalOptions,
        *,
        timeout: float,
        account: str = "default",
        webhook_url: str | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Upload and publish every file at once; download each result as it completes.

        A ``webhook_url`` is checked by the URL guard before anything is uploaded
        (:class:`UrlNotAllowedError`). Returns outcomes in completion order. Raises
        :class:`SubmitTimeoutError` if some results do not arrive within ``timeout``.
        """
        if webhook_url is not None:
            await resolve(webhook_url, UrlPolicy.of(self.settings.urls))
        await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
        targets = [task.target for task in plan(sources, out_dir, options)]
        bucket = self.settings.s3.input_bucket
        requests = [
            ImageRequested(
                request_id=(request_id := new_request_id()),
                account=account,
                payload=ImageRequest.model_validate(
                    {
                        "input": S3Object(
                            bucket=bucket, key=f"uploads/{account}/{request_id}/{source.name}"
                        ),
                        "options": options,
                        "webhook_url": webhook_url,
                    }
                ),
            )
            for source in sources
        ]
        by_id = {
            request.request_id: (source, target)
            for request, source, target in zip(requests, sources, targets, strict=True)
        }
        watcher = ResultWatcher(self.settings)
        await watcher.start()
        try:
            await self._upload(requests, sources)
            await self._publish(requests)
            outcomes = []
            async for event in watcher.results(set(by_id), timeout):
                source, target = by_id[event.request_id]
                saved = await self._download(event, target)
                outcome = Outcome(source, event.request_id, event, saved)
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
            return outcomes
        finally:
            await watcher.stop()

    async def _upload(self, requests: Sequence[ImageRequested], sources: Sequence[Path]) -> None:
        """Store each input and its "accepted" job record, before anything is published."""
        jobs_store = JobStore(self.store, self.settings.s3.jobs_bucket)
        slots = asyncio.Semaphore(_UPLOADS_AT_ONCE)  # bounds the input bytes held in memory

        async def upload(request: ImageRequested, source: Path) -> None:
            target = request.payload.input
            assert isinstance(target, S3Object)
            async with slots:
                data = await asyncio.to_thread(source.read_bytes)
                await self._retrying(
                    lambda: asyncio.to_thread(
                        self.store.put, target.bucket, target.key, data, "application/octet-stream"
                    )
                )
                await self._retrying(lambda: jobs_store.put(accepted(request)))

        await asyncio.gather(*(upload(r, s) for r, s in zip(requests, sources, strict=True)))

    async def _publish(self, requests: Sequence[ImageRequested]) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            client_id=f"{self.settings.kafka.client_id}-submit",
            acks="all",
            enable_idempotence=self.settings.kafka.enable_idempotence,
        )
        await producer.start()
        try:
            sent = [
                await producer.send(
                    self.settings.topics.requests,
                    value=request.model_dump_json().encode(),
                    key=request.request_id.encode(),
                )
                for request in requests
            ]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    async def _download(self, event: ResultEvent, target: Path) -> Path | None:
        if not isinstance(event, ImageCompleted):
            return None
        output = event.payload.output
        data = await self._retrying(
            lambda: asyncio.to_thread(self.store.get, output.bucket, output.key)
        )
        await asyncio.to_thread(target.write_bytes, data)
        return target
