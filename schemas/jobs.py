"""The job record: one JSON document per request in the object store.

It is a projection of the request's events — accepted → processing → succeeded / failed —
written idempotently: a finished record never goes back, and a redelivered request whose
record is finished is answered from the record instead of being processed again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from schemas.events import (
    SCHEMA_VERSION,
    AccountId,
    ErrorInfo,
    ImageRequest,
    OutputInfo,
    RequestId,
    every_output,
    utc_now,
)
from schemas.webhooks import DeliveryAttempt


class JobStatus(StrEnum):
    ACCEPTED = "accepted"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


class Transition(BaseModel):
    """One step of the record's history."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", json_schema_serialization_defaults_required=True
    )

    status: JobStatus
    at: datetime
    attempt: int = 0
    note: str | None = None


class JobRecord(BaseModel):
    """Everything known about one request."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", json_schema_serialization_defaults_required=True
    )

    schema_version: int = SCHEMA_VERSION
    request_id: RequestId
    account: AccountId
    status: JobStatus
    request: ImageRequest | None = Field(
        description="The request as accepted; null when the request event itself was invalid "
        "(then `error` says why)."
    )
    trace_id: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = Field(
        default=None, description="From the first attempt's start to the outcome."
    )
    attempts: int = Field(default=0, description="Processing attempts started.")
    outputs: list[OutputInfo] = Field(
        default_factory=list, description="Every output, once it succeeded (renditions)."
    )
    error: ErrorInfo | None = Field(default=None, description="Final error, or the last one.")
    worker: str | None = None
    result_event_id: str | None = None
    history: list[Transition] = Field(default_factory=list)
    webhooks_planned: list[str] = Field(
        default_factory=list,
        description="Result event ids a webhook delivery was started for (one chain each).",
    )
    deliveries: list[DeliveryAttempt] = Field(
        default_factory=list, description="Webhook delivery attempts, oldest first."
    )

    _outputs_filled = model_validator(mode="before")(every_output)

    @computed_field(  # type: ignore[prop-decorator]
        description="The first output (`outputs[0]`), once it succeeded."
    )
    @property
    def output(self) -> OutputInfo | None:
        return self.outputs[0] if self.outputs else None

    @computed_field(  # type: ignore[prop-decorator]
        description="Credits the request cost: its held credits once it succeeded; a failed "
        "or canceled request costs nothing."
    )
    @property
    def credits_charged(self) -> int:
        if self.status is JobStatus.SUCCEEDED and self.request is not None:
            return self.request.credits
        return 0
