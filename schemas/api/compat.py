"""Bodies of the compatible shapes, field for field as their hosted APIs document them
(the documents are ../shared/seeds/000…004):

- remove-bg JSON — ``POST /v1/remove-bg`` (JSON, returns an output URL);
- artworks — ``/v2/artworks/remove-background`` (async artwork objects);
- multipart remove — ``POST /v1/remove`` (multipart, returns the image);
- jobs — ``/api/v1/remove-bg`` and ``/api/v1/jobs/{id}`` (async jobs);
- rembg — ``/v2/rembg/…`` (multipart, returns the image).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from schemas.jobs import JobRecord, JobStatus
from schemas.refs import UrlInput
from schemas.webhooks import ArtworkParameters, ArtworkWebhook


class _Camel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


# remove-bg JSON -----------------------------------------------------------------------


class RemoveBgRequest(BaseModel):
    image: str | None = Field(
        default=None,
        description="A public https URL of the image, or a data URI "
        "(data:image/jpeg;base64,...). JPEG, PNG, WebP; at most 10 MB.",
    )


class RemoveBgResponse(BaseModel):
    success: bool
    image_url: str = Field(description="Transparent PNG; the link is valid for 24 hours.")
    request_id: str
    credits_used: int = Field(description="The documented price of a removal: 10.")


class RemoveBgErrorDetail(BaseModel):
    code: str
    message: str


class RemoveBgError(BaseModel):
    success: Literal[False] = False
    error: RemoveBgErrorDetail


# artworks -----------------------------------------------------------------------------


class ArtworkCreate(_Camel):
    image_url: str | None = Field(default=None, description="URL of the image.")
    webhook: str | None = Field(
        default=None,
        description="Optional HTTPS URL on a public host that receives the final artwork.",
    )
    output_format: Literal["auto", "png", "webp"] = Field(
        default="auto", description="auto (high-quality WebP), png or webp."
    )


Artwork = ArtworkWebhook  # the same object is returned, polled and sent to webhooks

ArtworkStatus = Literal["starting", "processing", "succeeded", "failed", "canceled"]

ARTWORK_STATUS: dict[JobStatus, ArtworkStatus] = {
    JobStatus.ACCEPTED: "starting",
    JobStatus.PROCESSING: "processing",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "canceled",
}


def artwork_of(record: JobRecord, output_url: str | None) -> ArtworkWebhook:
    """The artwork object of a job record (the artworks API's answers and webhooks)."""
    request = record.request
    chosen = request.options.format.value if request else "auto"
    output_format: Literal["auto", "png", "webp"] = (
        "png" if chosen == "png" else "webp" if chosen == "webp" else "auto"
    )
    source = request.input if request else None
    return ArtworkWebhook(
        id=record.request_id,
        parameters=ArtworkParameters(
            image_url=str(source.url) if isinstance(source, UrlInput) else None,
            webhook=str(request.webhook_url) if request and request.webhook_url else None,
            output_format=output_format,
        ),
        duration=round((record.duration_ms or 0.0) / 1000, 3),
        results=[output_url] if output_url else [],
        status=ARTWORK_STATUS[record.status],
        created_at=record.created_at,
    )


class ArtworkError(_Camel):
    message: str
    status_code: int
    error: str


# multipart remove ----------------------------------------------------------------------


class RemoveErrorDetail(BaseModel):
    code: Literal[
        "validation_error",
        "missing_image",
        "image_too_large",
        "authentication_error",
        "payment_required",
        "rate_limit_exceeded",
        "internal_server_error",
        "gateway_timeout",
    ]
    message: str


class RemoveError(BaseModel):
    error: RemoveErrorDetail


# jobs ---------------------------------------------------------------------------------


class JobAccepted(_Camel):
    job_id: str
    status: Literal["processing"] = "processing"
    created_at: datetime
    estimated_completion_time: str = Field(
        description="A range such as '8-12 seconds', from the backlog and measured rate."
    )


class JobStatusView(_Camel):
    job_id: str
    status: Literal["processing", "completed", "failed", "canceled"]
    created_at: datetime
    completed_at: datetime | None = None
    output_url: str | None = None
    error_message: str | None = None
    estimated_completion_time: str | None = None


class JobsError(BaseModel):
    error: str
    code: str


# rembg --------------------------------------------------------------------------------


class RembgError(BaseModel):
    error: Literal[
        "invalid_image",
        "invalid_parameters",
        "invalid_api_key",
        "insufficient_credits",
        "rate_limit_exceeded",
        "server_error",
        "timeout",
    ]
    message: str
