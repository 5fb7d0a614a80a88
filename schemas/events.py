"""Kafka event payloads: what producers send and what the processor publishes.

Every event carries ``schema_version`` and ``request_id`` (the idempotency key).
Unknown fields are ignored so that producers may run a newer schema than the workers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.errors import ErrorCode
from schemas.options import RemovalOptions

SCHEMA_VERSION = 1

RequestId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"),
    Field(
        description="Caller-chosen id, unique per request; also the idempotency key and "
        "part of the output object key. 1-128 characters of [A-Za-z0-9._-].",
        examples=["req_01HZX5T2K9"],
    ),
]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (events never carry naive times)."""
    return datetime.now(UTC)


class S3Object(BaseModel):
    """An object in the S3-compatible store."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["s3"] = "s3"
    bucket: Annotated[str, StringConstraints(min_length=3, max_length=63)]
    key: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class Event(BaseModel):
    """Fields shared by every event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1, description="Event schema version.")
    request_id: RequestId
    account: str = Field(default="default", description="Tenant the request belongs to.")
    trace_id: str | None = Field(
        default=None, description="Correlation id propagated from the caller, if any."
    )


class ImageRequested(Event):
    """A request to remove the background of one image."""

    type: Literal["image.requested"] = "image.requested"
    input: S3Object = Field(description="Where the input image is stored.")
    options: RemovalOptions = Field(default_factory=RemovalOptions)
    created_at: datetime = Field(default_factory=utc_now)


class ImageCompleted(Event):
    """The cutout was written to the object store."""

    type: Literal["image.completed"] = "image.completed"
    output: S3Object
    content_type: str = Field(examples=["image/png"])
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    processing_ms: float = Field(ge=0, description="Wall time spent by the processor.")
    completed_at: datetime = Field(default_factory=utc_now)


class ErrorInfo(BaseModel):
    """Why a request failed."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    code: ErrorCode
    message: str


class ImageFailed(Event):
    """The request cannot be completed; ``error.code`` says why."""

    type: Literal["image.failed"] = "image.failed"
    error: ErrorInfo
    failed_at: datetime = Field(default_factory=utc_now)


ResultEvent = Annotated[ImageCompleted | ImageFailed, Field(discriminator="type")]
