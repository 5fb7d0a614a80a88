"""Submitting requests — the one path the client and the gateway share.

A request is submitted in a fixed order: its job record *claimed* (created ``accepted``
only if the request id is free — a conditional write, so of concurrent submissions under
one id exactly one wins), then the input stored (when the caller brings bytes), then the
``image.requested`` event published, keyed by its request id. A worker or a poll never
meets a request without its record, and a duplicate never overwrites the first request's
input. If storing or publishing fails, the claim is withdrawn so the id can be used again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

from aiokafka.errors import KafkaError

from schemas.errors import CutstreamError
from schemas.events import ImageRequest, ImageRequested
from schemas.jobs import JobRecord
from schemas.options import RemovalOptions
from schemas.refs import S3Object, UrlInput
from schemas.renditions import Rendition
from schemas.webhooks import WebhookFormat
from streams.config.settings import Settings
from streams.exceptions import QueueUnavailableError, RequestIdTakenError, StorageUnavailableError
from streams.messaging.kafka import new_producer, start_all
from streams.storage.base import ObjectStore
from streams.storage.jobs import JobStore, accepted
from streams.storage.layout import upload_key

log = logging.getLogger(__name__)


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
    outputs: Sequence[Rendition] = (),
) -> ImageRequested:
    """The ``image.requested`` event for one image (and its renditions, if any)."""
    return ImageRequested(
        request_id=request_id,
        account=account,
        payload=ImageRequest.model_validate(
            {
                "input": source,
                "options": options,
                "webhook_url": webhook_url,
                "webhook_format": webhook_format,
                "outputs": list(outputs),
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
        await start_all(self.producer)

    async def stop(self) -> None:
        await self.producer.stop()

    def upload_target(self, account: str, request_id: str, filename: str) -> S3Object:
        """Where an input the caller brings as bytes is stored."""
        return S3Object(
            bucket=self.settings.s3.input_bucket, key=upload_key(account, request_id, filename)
        )

    async def claim(self, request: ImageRequested) -> tuple[JobRecord, bool]:
        """The job of ``request``: its record, newly created ``accepted`` (``True``), or
        the existing record of the same work under that id (``False``).
        :class:`RequestIdTakenError` if the id names a different request."""
        record = accepted(request)
        for _ in range(3):  # a claim withdrawn between our create and our read: try again
            created, existing = await self.jobs.create(record)
            if created:
                return record, True
            if existing is None:
                continue
            if existing.request is not None and existing.request.same_work_as(request.payload):
                return existing, False
            raise RequestIdTakenError(
                f"request_id {request.request_id} is already used by a different request"
            )
        raise StorageUnavailableError(f"could not claim request_id {request.request_id}")

    async def withdraw(self, request: ImageRequested) -> None:
        """Withdraw a claim whose request was never published (best effort)."""
        try:
            await self.jobs.withdraw(request.account, request.request_id)
        except CutstreamError as exc:
            log.warning("could not withdraw the claim on %s: %s", request.request_id, exc)

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

    async def submit(
        self,
        request: ImageRequested,
        upload: bytes | None = None,
        queue: Callable[[ImageRequested], Awaitable[None]] | None = None,
        backdrop: bytes | None = None,
    ) -> tuple[JobRecord, bool]:
        """Claim, store ``upload`` at the request's input and ``backdrop`` at its
        ``bg_image`` (when given), publish — or hand
        the request to ``queue`` (the gateway's admission, which has the ledger publish
        it). Returns the job and whether this call created it; an existing job of the
        same work is returned as it is, not published again. If publishing fails, the
        claim is withdrawn."""
        record, created = await self.claim(request)
        if not created:
            return record, False
        try:
            for data, place in (
                (upload, request.payload.input),
                (backdrop, request.payload.options.bg_image),
            ):
                if data is not None:
                    assert isinstance(place, S3Object)
                    await asyncio.to_thread(
                        self.store.put, place.bucket, place.key, data, "application/octet-stream"
                    )
            if queue is None:
                await self.publish([request])
            else:
                await queue(request)
        except BaseException:
            await self.withdraw(request)
            raise
        return record, True
