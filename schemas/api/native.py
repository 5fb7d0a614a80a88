"""Bodies of the native API (``/v1/jobs``, ``/v1/remove-background``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events import RequestId
from schemas.options import RemovalOptions
from schemas.refs import BucketName, ObjectKey, WebUrl
from schemas.renditions import MAX_RENDITIONS, Rendition, check_renditions
from schemas.webhooks import DeliveryAttempt, DeliveryOutcome


class ObjectRef(BaseModel):
    """An image already in the store: under the account's own uploads or outputs, or where
    ``access.read_grants`` lets it read; anything else fails as ``input_not_found``."""

    model_config = ConfigDict(extra="forbid")

    bucket: BucketName
    key: ObjectKey


class JobCreate(BaseModel):
    """A job from JSON: exactly one of ``image_url``, ``image_base64`` or ``image``."""

    model_config = ConfigDict(extra="forbid")

    image_url: WebUrl | None = Field(default=None, description="A public https URL of the image.")
    image_base64: str | None = Field(
        default=None,
        description="The image itself, base64-encoded, or as a data URI "
        "(data:image/jpeg;base64,...).",
    )
    image: ObjectRef | None = Field(default=None, description="An object in the store.")
    options: RemovalOptions = Field(default_factory=RemovalOptions)
    outputs: list[Rendition] = Field(
        default_factory=list,
        max_length=MAX_RENDITIONS,
        description=f"Up to {MAX_RENDITIONS} renditions from one segmentation (docs/api.md"
        "#renditions): each overrides `options` (not `model` or `quality`) and may name "
        "its `bucket` and `key`. In a form: one field, `outputs`, holding this list as JSON.",
    )
    webhook_url: WebUrl | None = Field(
        default=None, description="https URL that receives a signed notification when done."
    )
    request_id: RequestId | None = Field(
        default=None,
        description="Your idempotency key: posting the same request_id again returns the "
        "existing job instead of creating one.",
    )

    @model_validator(mode="after")
    def _one_image(self) -> JobCreate:
        given = [f for f in ("image_url", "image_base64", "image") if getattr(self, f)]
        if len(given) > 1:
            raise ValueError(f"give one image, not {' and '.join(given)}")
        check_renditions(self.options, self.outputs)
        return self


class OutputView(BaseModel):
    url: str = Field(description="Presigned download URL (expires; see expires_at).")
    expires_at: datetime
    content_type: str
    width: int
    height: int
    size_bytes: int
    foreground: dict[str, int] | None = Field(
        default=None, description="The subject's bounds: left, top, width, height (px)."
    )


class RenditionView(OutputView):
    """One of a job's outputs, and where it is stored."""

    bucket: str
    key: str


class ErrorView(BaseModel):
    code: str
    message: str


class WebhookAttemptView(BaseModel):
    """The latest webhook delivery attempt, as the notifier recorded it."""

    at: datetime
    outcome: DeliveryOutcome = Field(
        description="delivered, retrying, exhausted, endpoint_disabled, refused (the URL "
        "failed the URL guard when it was resolved, so it was never called) or "
        "skipped_disabled."
    )
    status_code: int | None = None
    error: str | None = Field(default=None, description="Why it failed, if it did.")
    next_attempt_in_s: float | None = None

    @classmethod
    def of(cls, attempt: DeliveryAttempt) -> WebhookAttemptView:
        return cls.model_validate(attempt.model_dump(include=set(cls.model_fields)))


JobStatusName = Literal["accepted", "processing", "succeeded", "failed", "canceled"]


class JobView(BaseModel):
    """A job as the API shows it."""

    id: str
    account: str
    status: JobStatusName
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    attempts: int
    options: RemovalOptions | None = Field(
        description="The options asked for; null when the request itself was invalid."
    )
    output: OutputView | None = Field(default=None, description="The first output.")
    outputs: list[RenditionView] = Field(
        default_factory=list,
        description="Every output once it succeeded, in the order of the request's "
        "`outputs` (one when it listed none).",
    )
    error: ErrorView | None = None
    webhook_url: str | None = None
    webhook_deliveries: int = Field(default=0, description="Delivery attempts made so far.")
    webhook_last_attempt: WebhookAttemptView | None = Field(
        default=None, description="The latest delivery attempt, once there is one."
    )
    credits_charged: int = Field(
        default=0,
        description="Credits the job cost: what it holds once it succeeded (plans that draw "
        "credits); nothing while it runs, or when it failed or was canceled.",
    )
    estimated_completion_s: float | None = Field(
        default=None,
        description="While pending: seconds until it is likely done, from the current "
        "backlog and the measured processing rate.",
    )


class ApiErrorBody(BaseModel):
    """The native error body."""

    error: ErrorView
