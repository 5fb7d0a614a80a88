"""Bodies of the seed-compatible routes, field for field as their documents give them.

- seed 000 — ``POST /v1/remove-bg`` (JSON, returns an output URL);
- seed 001 — ``/v2/artworks/remove-background`` (async artwork objects);
- seed 002 — ``POST /v1/remove`` (multipart, returns the image);
- seed 003 — ``/api/v1/remove-bg`` and ``/api/v1/jobs/{id}`` (async jobs);
- seed 004 — ``/v2/rembg/…`` (multipart, returns the image).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from schemas.webhooks import ArtworkWebhook


class _Camel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


# seed 000 -------------------------------------------------------------------------------


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


# seed 001 -------------------------------------------------------------------------------


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


class ArtworkError(_Camel):
    message: str
    status_code: int
    error: str


# seed 002 -------------------------------------------------------------------------------


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


# seed 003 -------------------------------------------------------------------------------


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


# seed 004 -------------------------------------------------------------------------------


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
