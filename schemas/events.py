"""Kafka event envelopes: what producers send and what the processor publishes.

Every event is an envelope — ``schema_version``, ``type``, ``event_id``, ``request_id``
(the idempotency key, unique per account), ``account``, ``created_at``, ``trace_id`` —
around a ``payload``. Unknown fields are ignored at every level so producers may run a
newer schema than the workers; ``schema_version`` only changes for incompatible changes.
JSON Schema files for producers in other languages are in ``schemas/json/``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyUrl,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    TypeAdapter,
    UrlConstraints,
)

from schemas.errors import ErrorCode
from schemas.options import RemovalOptions

SCHEMA_VERSION = 1

_KEY_SAFE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


def is_key_safe(value: str) -> bool:
    """Whether ``value`` may be a request id or account (it becomes part of object keys)."""
    return re.fullmatch(_KEY_SAFE, value) is not None


RequestId = Annotated[
    str,
    StringConstraints(pattern=_KEY_SAFE),
    Field(
        description="Caller-chosen id, unique per request within an account: the "
        "idempotency key and part of the output's object key. 1-128 characters of "
        "[A-Za-z0-9._-], starting alphanumeric.",
        examples=["req_01HZX5T2K9"],
    ),
]
AccountId = Annotated[
    str,
    StringConstraints(pattern=_KEY_SAFE),
    Field(description="Tenant the request belongs to (same character rules as request_id)."),
]
WebUrl = Annotated[AnyUrl, UrlConstraints(allowed_schemes=["http", "https"], max_length=2048)]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (events never carry naive times)."""
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


KEY_PATTERN = r"^(?!.*(^|/)\.{0,2}(/|$))[^\x00-\x1f\x7f\\]+$"
""":func:`_checked_key` as a regular expression, for the JSON Schemas."""


def _checked_key(key: str) -> str:
    """``key`` if it is a plain object path: no leading ``/``, no empty, ``.`` or ``..``
    segment, no control characters or backslashes (so no prefix rule can be climbed out
    of, and every store reads it the same way)."""
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError("an object key has no leading '/', no '//' and no '.' or '..' segments")
    if any(ord(char) < 32 or char in "\\\x7f" for char in key):
        raise ValueError("an object key has no control characters or backslashes")
    return key


BucketName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
    Field(description="An S3 bucket name: 3-63 of [a-z0-9.-], starting and ending alphanumeric."),
]
ObjectKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1024),
    AfterValidator(_checked_key),
    Field(
        description="An object key: a path of non-empty segments, none of them '.' or '..'.",
        json_schema_extra={"pattern": KEY_PATTERN},
    ),
]


class S3Object(_Model):
    """An object in the S3-compatible store."""

    kind: Literal["s3"] = "s3"
    bucket: BucketName
    key: ObjectKey


class UrlInput(_Model):
    """An image to fetch over HTTPS (public hosts only; see the URL guard)."""

    kind: Literal["url"] = "url"
    url: WebUrl


def _input_kind(value: Any) -> str:
    """``kind`` when given, else inferred: an object with ``url`` is a URL input."""
    if isinstance(value, dict):
        return str(value.get("kind") or ("url" if "url" in value else "s3"))
    return str(getattr(value, "kind", "s3"))


InputRef = Annotated[
    Annotated[S3Object, Tag("s3")] | Annotated[UrlInput, Tag("url")],
    Discriminator(_input_kind),
]


class ImageRequest(_Model):
    """Payload of ``image.requested``."""

    input: InputRef = Field(description="Where the image is: an S3 object or a URL.")
    options: RemovalOptions = Field(default_factory=RemovalOptions)
    webhook_url: WebUrl | None = Field(
        default=None, description="Where to POST the signed result notification, if anywhere."
    )
    webhook_format: Literal["native", "jobs", "artworks"] = Field(
        default="native",
        description="Payload shape of the webhook: native ({type, timestamp, data}), jobs "
        "(the jobs shape: jobId, status, outputUrl…) or artworks (the artworks shape's "
        "artwork object).",
    )


class ForegroundBox(_Model):
    """The subject's bounds in output pixels (remove.bg's X-Foreground-* headers)."""

    left: int
    top: int
    width: int
    height: int


class OutputInfo(S3Object):
    """The stored result."""

    content_type: str = Field(examples=["image/png"])
    size_bytes: int = Field(ge=0)
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    foreground: ForegroundBox | None = None


class ImageResult(_Model):
    """Payload of ``image.completed``."""

    output: OutputInfo
    processing_ms: float = Field(ge=0, description="Wall time of the successful attempt.")
    attempts: int = Field(ge=1, description="Processing attempts it took.")
    worker: str = Field(default="", description="Which worker produced it (host:pid).")


class ErrorInfo(_Model):
    """Why a request failed."""

    code: ErrorCode
    message: str
    retryable: bool = Field(
        default=False, description="Whether the same request may succeed later unchanged."
    )


class ImageError(_Model):
    """Payload of ``image.failed``."""

    error: ErrorInfo
    attempts: int = Field(ge=0, description="Processing attempts made (0: refused unread).")


class Envelope(_Model):
    """Fields shared by every event."""

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1, description="Event schema version.")
    event_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        description="Unique per event; a republished result keeps its original event_id.",
    )
    request_id: RequestId
    account: AccountId = "default"
    created_at: datetime = Field(default_factory=utc_now)
    trace_id: str | None = Field(
        default=None,
        max_length=256,
        description="Correlation id chosen by the caller, copied onto every resulting event.",
    )


class ImageRequested(Envelope):
    """A request to remove the background of one image (topic ``topics.requests``)."""

    type: Literal["image.requested"] = "image.requested"
    payload: ImageRequest


class ImageCompleted(Envelope):
    """The result is stored (topic ``topics.completed``)."""

    type: Literal["image.completed"] = "image.completed"
    payload: ImageResult


class ImageFailed(Envelope):
    """The request cannot be completed; ``payload.error.code`` says why
    (topic ``topics.failed``)."""

    type: Literal["image.failed"] = "image.failed"
    payload: ImageError


ResultEvent = Annotated[ImageCompleted | ImageFailed, Field(discriminator="type")]

RESULT_EVENTS = TypeAdapter[ImageCompleted | ImageFailed](ResultEvent)
"""Parses a completed-or-failed event: ``RESULT_EVENTS.validate_json(data)``."""


def result_event_id(account: str, request_id: str, kind: str) -> str:
    """Deterministic id of a request's result event: republishing yields the same id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"cutstream:{account}/{request_id}#{kind}").hex


class DeadLetter(_Model):
    """A message the processor could not handle (topic ``topics.dead_letter``)."""

    schema_version: int = SCHEMA_VERSION
    type: Literal["dead_letter"] = "dead_letter"
    reason: Literal[
        "unparseable",
        "invalid_request",
        "retries_exhausted",
        "webhook_exhausted",
        "webhook_refused",
    ]
    error: ErrorInfo
    request_id: str | None = Field(default=None, description="If the message had a usable one.")
    account: str | None = None
    source_topic: str
    source_partition: int
    source_offset: int
    attempts: int = 0
    original: str = Field(description="The original message value (see original_encoding).")
    original_encoding: Literal["utf-8", "base64"]
    created_at: datetime = Field(default_factory=utc_now)
