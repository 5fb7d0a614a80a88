"""Webhook payloads (three shapes), delivery tasks, attempts and the exhausted event.

A request's ``webhook_format`` picks the payload shape its webhook gets:

- ``native`` — Standard Webhooks style ``{type, timestamp, data}``;
- ``jobs`` — the jobs shape's ``{jobId, status, outputUrl | errorMessage, completedAt}``;
- ``artworks`` — the artworks shape's artwork object.

Whatever the shape, the delivery carries the Standard Webhooks headers
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from schemas.batches import BatchCompleted
from schemas.events import (
    SCHEMA_VERSION,
    Envelope,
    ErrorInfo,
    ImageCompleted,
    ImageFailed,
    OutputInfo,
    utc_now,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format marker, not a secret


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_<base64>`` signing secret (at least 16 bytes).

    ``ValueError`` if ``secret`` is not one. The format is part of the contract: the
    settings check it at load, the notifier signs with it, receivers verify with it.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValueError("the part after whsec_ is not valid base64") from exc
    if len(key) < 16:
        raise ValueError("a webhook secret must hold at least 16 bytes of key")
    return key


class WebhookFormat(StrEnum):
    NATIVE = "native"
    JOBS = "jobs"
    ARTWORKS = "artworks"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _CamelModel(BaseModel):
    """Fields in snake_case here, camelCase on the wire (the compatible shapes' naming)."""

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
    )


class NativeWebhookData(_Model):
    request_id: str
    job_id: str = Field(description="Same as request_id.")
    account: str
    status: Literal["succeeded", "failed"]
    output_url: str | None = Field(
        default=None, description="Presigned GET URL of the output, valid for a limited time."
    )
    output_url_expires_at: datetime | None = None
    output: OutputInfo | None = None
    error: ErrorInfo | None = None
    attempts: int
    created_at: datetime
    completed_at: datetime
    trace_id: str | None = None


class NativeWebhook(_Model):
    """``native`` payload."""

    type: Literal["image.completed", "image.failed"]
    timestamp: datetime
    data: NativeWebhookData


class BatchWebhook(_Model):
    """A batch's webhook: ``{type, timestamp, data}`` with the ``batch.completed`` event."""

    type: Literal["batch.completed"] = "batch.completed"
    timestamp: datetime
    data: BatchCompleted


class JobsWebhook(_CamelModel):
    """``jobs`` payload: ``outputUrl`` on success, ``errorMessage`` on failure."""

    job_id: str
    status: Literal["completed", "failed"]
    output_url: str | None = None
    error_message: str | None = None
    completed_at: datetime


class ArtworkParameters(_CamelModel):
    image_url: str | None = None
    webhook: str | None = None
    output_format: Literal["auto", "png", "webp"] = "auto"


class ArtworkWebhook(_CamelModel):
    """``artworks`` payload: the artwork object."""

    id: str
    artwork_type: Literal["remove_background"] = "remove_background"
    parameters: ArtworkParameters
    duration: float = Field(description="Processing seconds.")
    results: list[str]
    status: Literal["starting", "processing", "succeeded", "failed", "canceled"]
    created_at: datetime


class DeliveryTask(_Model):
    """One webhook to deliver (topic ``topics.webhook_deliveries``); the attempt count
    travels in a header."""

    schema_version: int = SCHEMA_VERSION
    type: Literal["webhook.delivery"] = "webhook.delivery"
    webhook_id: str = Field(description="The result event's id: stable across retries.")
    url: str
    format: WebhookFormat
    result: ImageCompleted | ImageFailed | BatchCompleted = Field(discriminator="type")

    @property
    def subject(self) -> str:
        """What the webhook is about: the request id, or the batch id."""
        result = self.result
        return result.batch_id if isinstance(result, BatchCompleted) else result.request_id

    @property
    def trace_id(self) -> str | None:
        result = self.result
        return None if isinstance(result, BatchCompleted) else result.trace_id


DeliveryOutcome = Literal[
    "delivered", "retrying", "exhausted", "endpoint_disabled", "refused", "skipped_disabled"
]


class DeliveryAttempt(_Model):
    """One attempt, as appended to the job record."""

    webhook_id: str
    attempt: int
    url: str
    at: datetime = Field(default_factory=utc_now)
    status_code: int | None = None
    latency_ms: float | None = None
    outcome: DeliveryOutcome
    error: str | None = None
    next_attempt_in_s: float | None = None


class WebhookExhaustedPayload(_Model):
    webhook_id: str
    url: str
    attempts: int
    reason: Literal["retries_exhausted", "url_refused"]
    last_status_code: int | None = None
    last_error: str | None = None


class WebhookExhausted(Envelope):
    """No delivery succeeded and none will be tried again (topic ``topics.webhook_events``)."""

    type: Literal["webhook.exhausted"] = "webhook.exhausted"
    payload: WebhookExhaustedPayload
    created_at: datetime = Field(default_factory=utc_now)
