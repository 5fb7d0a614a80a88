"""Submitting requests — the one path the client and the gateway share.

A request is submitted in a fixed order: the input stored (when the caller brings bytes),
the job record written ``accepted``, then the ``image.requested`` event published, keyed by
its request id. A worker or a poll therefore never meets a request without its record.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from aiokafka.errors import KafkaError

from schemas.events import ImageRequest, ImageRequested, S3Object, UrlInput
from schemas.jobs import JobRecord
from schemas.options import RemovalOptions
from schemas.webhooks import WebhookFormat
from streams.config.settings import Settings
from streams.exceptions import QueueUnavailableError
from streams.messaging.kafka import new_producer
from streams.storage.base import ObjectStore
from streams.storage.jobs import JobStore, accepted
from streams.storage.layout import upload_key


def new_request_id() -> str:
    """A fresh, key-safe, unguessable request id."""
    return f"req_{uuid.uuid4().hex}"


def image_request(
    account: str,
    request_id: str,
    source: S3Object | UrlInput,
    options: RemovalOptions,
    *,
    webhook_url: str | None = None,
    webhook_format: WebhookFormat = WebhookFormat.NATIVE,
) -> ImageRequested:
    """The ``image.requested`` event for one image."""
    return ImageRequested(
        request_id=request_id,
        account=account,
        payload=ImageRequest.model_validate(
            {
                "input": source,
                "options": options,
                "webhook_url": webhook_url,
                "webhook_format": webhook_format,
            }
        ),
    )


class Submitter:
    """Stores inputs and job records and publishes requests. ``role`` names the producer
    (``<kafka.client_id>-<role>``). Start it before use, stop it after."""

    def __init__(self, settings: Settings, store: ObjectStore, role: str) -> None:
        self.settings = settings
        self.store = store
        self.jobs = JobStore(store, settings.s3.jobs_bucket)
        self.producer = new_producer(settings, role)

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def upload(self, account: str, request_id: str, filename: str, data: bytes) -> S3Object:
        """Store an input the caller brought as bytes; returns where it is."""
        bucket = self.settings.s3.input_bucket
        key = upload_key(account, request_id, filename)
        await asyncio.to_thread(self.store.put, bucket, key, data, "application/octet-stream")
        return S3Object(bucket=bucket, key=key)

    async def record(self, request: ImageRequested) -> JobRecord:
        """Write the request's job record as ``accepted``."""
        return await self.jobs.put(accepted(request))

    async def publish(self, requests: Sequence[ImageRequested]) -> None:
        """Publish ``requests`` (their records written first) and wait until Kafka has
        them all. :class:`QueueUnavailableError` if it does not take them."""
        topic = self.settings.topics.requests
        try:
            sent = [
                await self.producer.send(
                    topic, request.model_dump_json().encode(), key=request.request_id.encode()
                )
                for request in requests
            ]
            await asyncio.gather(*sent)
        except KafkaError as exc:
            raise QueueUnavailableError(f"cannot queue the request right now: {exc}") from exc

    async def submit(self, request: ImageRequested) -> JobRecord:
        """Record, then publish, one request."""
        record = await self.record(request)
        await self.publish([request])
        return record
