"""The gateway's one pipeline behind every API shape.

Every route turns its request into :meth:`Gateway.submit` — input stored, job record
``accepted``, an ``image.requested`` event published — and reads answers back from job
records (:meth:`job`) or, for synchronous routes, from the result topics
(:meth:`submit_and_wait`): one consumer per gateway process reads the completed and failed
topics from their end and hands each result to the request waiting for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from datetime import timedelta

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from schemas.api.native import ObjectRef
from schemas.events import (
    RESULT_EVENTS,
    ImageCompleted,
    ImageFailed,
    ImageRequest,
    ImageRequested,
    OutputInfo,
    S3Object,
    UrlInput,
    is_key_safe,
)
from schemas.jobs import JobRecord, JobStatus
from schemas.options import RemovalOptions
from streams.client import ResultWatcher, new_request_id
from streams.config.settings import Settings
from streams.gateway.errors import ApiError
from streams.gateway.inputs import ImageSource, RemoteImage, Upload
from streams.net.urlguard import UrlPolicy
from streams.storage import jobs
from streams.storage.apikeys import KeyStore
from streams.storage.jobs import JobStore
from streams.storage.s3 import S3ObjectStore

log = logging.getLogger(__name__)

_PRIOR_SECONDS_PER_IMAGE = 2.0
"""Until results have been seen, estimates assume this (then the measured rate)."""
_RATE_WINDOW_S = 300.0
_LAG_CACHE_S = 2.0


class Gateway:
    """Shared state of one gateway process: clients, the result dispatcher, estimates."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = S3ObjectStore(settings)
        self.presigner = self.store.public(settings)
        self.jobs = JobStore(self.store, settings.s3.jobs_bucket)
        self.keys = KeyStore(self.store, settings.s3.jobs_bucket, settings.gateway.api_key_cache_s)
        self.url_policy = UrlPolicy.of(settings.urls)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id=f"{settings.kafka.client_id}-gateway",
            acks="all",
            enable_idempotence=settings.kafka.enable_idempotence,
        )
        self.watcher = ResultWatcher(settings)
        self.admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id=f"{settings.kafka.client_id}-gateway-admin",
        )
        self.waiters: dict[tuple[str, str], asyncio.Future[ImageCompleted | ImageFailed]] = {}
        self.completions: deque[float] = deque(maxlen=500)
        self._dispatcher: asyncio.Task[None] | None = None
        self._lag: tuple[float, int] | None = None

    async def start(self) -> None:
        await self.producer.start()
        await self.watcher.start()
        await self.admin.start()
        self._dispatcher = asyncio.create_task(self._dispatch(), name="result-dispatcher")

    async def stop(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        await self.admin.close()
        await self.watcher.stop()
        await self.producer.stop()

    async def _dispatch(self) -> None:
        """Hand each result to its waiter; note completion times for the rate."""
        while True:
            try:
                batches = await self.watcher.consumer.getmany(timeout_ms=500)
            except KafkaError as exc:  # the broker restarting: keep going
                log.warning("result consumer: %s", exc)
                await asyncio.sleep(1)
                continue
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    try:
                        result = RESULT_EVENTS.validate_json(record.value)
                    except ValidationError:
                        continue
                    self.completions.append(now)
                    waiter = self.waiters.get((result.account, result.request_id))
                    if waiter is not None and not waiter.done():
                        waiter.set_result(result)

    # Submitting -------------------------------------------------------------------------

    async def submit(
        self,
        account: str,
        source: ImageSource,
        options: RemovalOptions,
        *,
        webhook_url: str | None = None,
        webhook_format: str = "native",
        request_id: str | None = None,
    ) -> JobRecord:
        """Store the input, record the job as accepted, publish the request. With a
        ``request_id`` that already exists, the existing job is returned (idempotent)."""
        if request_id is not None:
            existing = await self.jobs.get(account, request_id)
            if existing is not None:
                return existing
        return await self._publish(
            account,
            request_id or new_request_id(),
            source,
            options,
            webhook_url=webhook_url,
            webhook_format=webhook_format,
        )

    async def _publish(
        self,
        account: str,
        request_id: str,
        source: ImageSource,
        options: RemovalOptions,
        *,
        webhook_url: str | None = None,
        webhook_format: str = "native",
    ) -> JobRecord:
        """Submit a new job under a fresh ``request_id``."""
        request = ImageRequested(
            request_id=request_id,
            account=account,
            payload=ImageRequest.model_validate(
                {
                    "input": await self._input(account, request_id, source),
                    "options": options,
                    "webhook_url": webhook_url,
                    "webhook_format": webhook_format,
                }
            ),
        )
        record = await self.jobs.put(jobs.accepted(request))
        try:
            await self.producer.send_and_wait(
                self.settings.topics.requests,
                request.model_dump_json().encode(),
                key=request_id.encode(),
            )
        except KafkaError as exc:
            raise ApiError(503, "unavailable", f"cannot queue the job right now: {exc}") from exc
        return record

    async def _input(
        self, account: str, request_id: str, source: ImageSource
    ) -> S3Object | UrlInput:
        if isinstance(source, RemoteImage):
            return UrlInput.model_validate({"url": source.url})
        if isinstance(source, ObjectRef):
            return S3Object(bucket=source.bucket, key=source.key)
        assert isinstance(source, Upload)
        key = f"uploads/{account}/{request_id}/{source.filename}"
        bucket = self.settings.s3.input_bucket
        await asyncio.to_thread(
            self.store.put, bucket, key, source.data, "application/octet-stream"
        )
        return S3Object(bucket=bucket, key=key)

    async def submit_and_wait(
        self,
        account: str,
        source: ImageSource,
        options: RemovalOptions,
        *,
        webhook_format: str = "native",
    ) -> ImageCompleted | ImageFailed:
        """Submit and wait for the result up to ``gateway.sync_timeout_s``; then a 504
        that names the job to poll."""
        request_id = new_request_id()
        waiter: asyncio.Future[ImageCompleted | ImageFailed] = (
            asyncio.get_running_loop().create_future()
        )
        self.waiters[(account, request_id)] = waiter
        try:
            await self._publish(account, request_id, source, options, webhook_format=webhook_format)
            return await asyncio.wait_for(waiter, self.settings.gateway.sync_timeout_s)
        except TimeoutError:
            raise ApiError(
                504,
                "timeout",
                f"not done within {self.settings.gateway.sync_timeout_s:g} s; the job goes on: "
                f"poll /v1/jobs/{request_id}",
            ) from None
        finally:
            self.waiters.pop((account, request_id), None)

    # Reading ----------------------------------------------------------------------------

    async def job(self, account: str, request_id: str) -> JobRecord:
        """The job record; 404 for another account's job or none at all."""
        record = await self.jobs.get(account, request_id) if is_key_safe(request_id) else None
        if record is None:
            raise ApiError(404, "not_found", f"no job {request_id}")
        return record

    async def output_bytes(self, output: OutputInfo) -> bytes:
        return await asyncio.to_thread(self.store.get, output.bucket, output.key)

    def output_url(self, output: OutputInfo, expiry_s: int | None = None) -> str:
        seconds = expiry_s or self.settings.outputs.url_expiry_s
        return self.presigner.presigned_get_url(
            output.bucket, output.key, timedelta(seconds=seconds)
        )

    async def cancel(self, account: str, request_id: str) -> JobRecord:
        """Cancel a job that has not started (409 otherwise). The worker checks for the
        cancellation when the request reaches it."""
        record = await self.job(account, request_id)
        if record.status is JobStatus.CANCELED:
            return record
        if record.status is not JobStatus.ACCEPTED:
            raise ApiError(409, "conflict", f"job {request_id} is already {record.status}")
        return await self.jobs.put(jobs.canceled(record))

    # Estimates --------------------------------------------------------------------------

    def seconds_per_image(self) -> float:
        """Measured from the results seen in the last few minutes (all workers)."""
        now = time.monotonic()
        recent = [t for t in self.completions if now - t <= _RATE_WINDOW_S]
        if len(recent) < 2 or recent[-1] == recent[0]:
            return _PRIOR_SECONDS_PER_IMAGE
        return (recent[-1] - recent[0]) / (len(recent) - 1)

    async def backlog(self) -> int:
        """Requests published but not yet taken by the processors' group (cached briefly)."""
        now = time.monotonic()
        if self._lag is not None and now - self._lag[0] < _LAG_CACHE_S:
            return self._lag[1]
        lag = await self._measure_lag()
        self._lag = (now, lag)
        return lag

    async def _measure_lag(self) -> int:
        topic = self.settings.topics.requests
        try:
            committed = await self.admin.list_consumer_group_offsets(self.settings.worker.group_id)
            consumer = self.watcher.consumer
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
            ends = await consumer.end_offsets(partitions) if partitions else {}
        except KafkaError as exc:
            log.warning("cannot measure the backlog: %s", exc)
            return 0
        return sum(
            max(0, end - (committed[tp].offset if tp in committed else 0))
            for tp, end in ends.items()
        )

    async def estimate_s(self) -> float:
        """Seconds until a job submitted now is likely done."""
        return (await self.backlog() + 1) * self.seconds_per_image()
