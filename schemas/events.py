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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    computed_field,
    model_validator,
)

from schemas.errors import DEAD_LETTER_CODES, FAILURE_CODES, ErrorCode
from schemas.options import OutputFormat, RemovalOptions
from schemas.refs import FrozenModel, InputRef, S3Object, WebUrl
from schemas.renditions import (
    MAX_RENDITIONS,
    OutputSpec,
    Rendition,
    check_renditions,
    dumped,
    literal_key,
    rendition_options,
)

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


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (events never carry naive times)."""
    return datetime.now(UTC)


BatchId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"),
    Field(
        description="Client-chosen or generated batch id, unique within an account: 1-100 "
        "characters of [A-Za-z0-9._-], starting alphanumeric.",
        examples=["catalog-2026-11-22"],
    ),
]


class BatchItemRef(FrozenModel):
    """Which batch item a request is (set by the batch planner)."""

    batch_id: BatchId
    index: int = Field(ge=0, description="Position of the item in its source (0-based).")
    item_id: str = Field(
        max_length=256, description="The item's id (its `id` or `sku` column, else its position)."
    )


def batch_request_id(batch_id: str, index: int) -> str:
    """The request id of a batch's ``index``-th item: deterministic, so planning a batch
    again names the same requests (and finds their results)."""
    return f"{batch_id}.{index}"


class ImageRequest(FrozenModel):
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
    credits: int = Field(
        default=0,
        ge=0,
        description="Credits the ledger holds for this request (gateway requests on plans "
        "that draw credits): charged when it completes, refunded when it fails. Requests "
        "published straight to Kafka are not metered and hold none.",
    )
    output: S3Object | None = Field(
        default=None,
        description="Where to write the result, if not the default "
        "`<outputs bucket>/<account>/<request_id>.<ext>`: the account's own prefix in the "
        "outputs bucket, or a prefix `access.write_grants` gives it (else the request fails "
        "with `output_not_allowed`).",
    )
    batch: BatchItemRef | None = Field(
        default=None, description="The batch item this request is, if any."
    )
    outputs: list[Rendition] = Field(
        default_factory=list,
        max_length=MAX_RENDITIONS,
        description=f"Up to {MAX_RENDITIONS} renditions of one segmentation: each overrides "
        "the request's file options (all but `model`, `quality` and `roi`, which shape the "
        "mask) and may name its `bucket` and "
        "`key` (a template). Empty: one output, as the options say. With `output` set, the "
        "first rendition goes there.",
    )

    @model_validator(mode="after")
    def _renditions_valid(self) -> ImageRequest:
        check_renditions(self.options, self.outputs)
        first = self.outputs[0] if self.outputs else None
        if self.output is not None and first is not None and (first.bucket or first.key):
            raise ValueError("give the first output's place once: in `output` or in outputs[0]")
        return self

    def specs(self) -> list[OutputSpec]:
        """Every output, resolved: one per rendition, or — with no ``outputs`` — the list
        of one that the options describe. The first goes to ``output`` when it is set."""
        specs = [
            OutputSpec(
                options=rendition_options(self.options, rendition),
                bucket=rendition.bucket,
                key=rendition.key,
            )
            for rendition in self.outputs or [Rendition()]
        ]
        if self.output is not None:
            place = {"bucket": self.output.bucket, "key": literal_key(self.output.key)}
            specs[0] = specs[0].model_copy(update=place)
        return specs

    def same_work_as(self, other: ImageRequest) -> bool:
        """Whether ``other`` asks for the same outputs: the same input, options, renditions
        and output locations (where the result is announced may differ). A request id
        names one piece of work."""
        return (self.input, self.options, self.output, dumped(self.outputs)) == (
            other.input,
            other.options,
            other.output,
            dumped(other.outputs),
        )


class ForegroundBox(FrozenModel):
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

    @property
    def extension(self) -> str:
        """The file name extension of its format (``png``, ``webp``, ``jpg``)."""
        return OutputFormat.of_media_type(self.content_type).extension


def every_output(data: Any) -> Any:
    """The reader of results and job records written before renditions: they carry
    ``output`` alone, which is their one output."""
    if isinstance(data, dict) and not data.get("outputs") and data.get("output") is not None:
        return {**data, "outputs": [data["output"]]}
    return data


class ImageResult(FrozenModel):
    """Payload of ``image.completed``."""

    outputs: list[OutputInfo] = Field(
        min_length=1,
        description="Every output, in the order of the request's `outputs` (one when it "
        "listed none).",
    )

    _outputs_filled = model_validator(mode="before")(every_output)

    @computed_field(  # type: ignore[prop-decorator]
        description="The first output (the only one, usually): `outputs[0]`, for readers "
        "of one output."
    )
    @property
    def output(self) -> OutputInfo:
        return self.outputs[0]

    processing_ms: float = Field(ge=0, description="Wall time of the successful attempt.")
    attempts: int = Field(ge=1, description="Processing attempts it took.")
    worker: str = Field(default="", description="Which worker produced it (host:pid).")
    credits_charged: int = Field(
        default=0, ge=0, description="Credits this image cost (its request's `credits`)."
    )


def _only(codes: frozenset[ErrorCode]) -> Callable[[ErrorCode], ErrorCode]:
    """A validator that accepts only ``codes``."""

    def check(code: ErrorCode) -> ErrorCode:
        if code not in codes:
            raise ValueError(f"{code} is not a code this event carries")
        return code

    return check


FailureCode = Annotated[
    ErrorCode,
    AfterValidator(_only(FAILURE_CODES)),
    WithJsonSchema({"type": "string", "enum": sorted(FAILURE_CODES)}),
]
DeadLetterCode = Annotated[
    ErrorCode,
    AfterValidator(_only(DEAD_LETTER_CODES)),
    WithJsonSchema({"type": "string", "enum": sorted(DEAD_LETTER_CODES)}),
]


class ErrorInfo(FrozenModel):
    """Why a request failed."""

    code: FailureCode
    message: str
    retryable: bool = Field(
        default=False, description="Whether the same request may succeed later unchanged."
    )


class DeadLetterError(FrozenModel):
    """Why a record was dead-lettered (the codes of failures, and of undelivered webhooks
    and conflicting duplicates)."""

    code: DeadLetterCode
    message: str
    retryable: bool = False


class ImageError(FrozenModel):
    """Payload of ``image.failed``."""

    error: ErrorInfo
    attempts: int = Field(ge=0, description="Processing attempts made (0: refused unread).")
    credits_refunded: int = Field(
        default=0, ge=0, description="Credits given back (its request's `credits`)."
    )


class Envelope(FrozenModel):
    """Fields shared by every event."""

    schema_version: int = Field(
        default=SCHEMA_VERSION,
        ge=1,
        le=SCHEMA_VERSION,
        description="Major version of the event schema; a worker dead-letters a higher one.",
    )
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


DeadLetterReason = Literal[
    "unparseable",
    "invalid_request",
    "unsupported_version",
    "retries_exhausted",
    "conflicting_duplicate",
    "handler_error",
    "webhook_exhausted",
    "webhook_refused",
]
"""Why a record was dead-lettered: not JSON at all; an event that violates the schema; a
``schema_version`` from a newer major; a transient failure that outlasted the retries; a
second request under a request id already taken by a different request; handling that
raised (a bug, or an outcome that cannot be published); a webhook never delivered; a
webhook URL the guard refuses."""

Encoding = Literal["utf-8", "base64"]


class DeadLetter(FrozenModel):
    """A record that could not be handled (topics ``topics.dead_letter`` and
    ``topics.webhook_dead_letter``). The original is kept whole when it fits under the
    producer's limit, else its head (``original_truncated``) with its full size and
    SHA-256, so a dead letter can always be published."""

    schema_version: int = SCHEMA_VERSION
    type: Literal["dead_letter"] = "dead_letter"
    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    reason: DeadLetterReason
    error: DeadLetterError
    request_id: str | None = Field(default=None, description="If the record had a usable one.")
    account: str | None = None
    trace_id: str | None = Field(default=None, description="If the record had a usable one.")
    source_topic: str
    source_partition: int
    source_offset: int
    source_key: str | None = Field(
        default=None, description="The record's key (see source_key_encoding), if it had one."
    )
    source_key_encoding: Encoding = "utf-8"
    source_headers: dict[str, str] = Field(
        default_factory=dict,
        description="The record's headers, values as text (bytes that are not UTF-8 escaped).",
    )
    attempts: int = 0
    original: str = Field(description="The original value, or its head (see original_truncated).")
    original_encoding: Encoding
    original_size_bytes: int = Field(ge=0, description="Size of the whole original value.")
    original_sha256: str = Field(description="SHA-256 of the whole original value.")
    original_truncated: bool = False
    created_at: datetime = Field(default_factory=utc_now)
