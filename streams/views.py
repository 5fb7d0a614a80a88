"""Job records shown in the seed-001 artwork shape, by the gateway and in webhooks."""

from __future__ import annotations

from typing import Literal

from schemas.events import UrlInput
from schemas.jobs import JobRecord, JobStatus
from schemas.webhooks import ArtworkParameters, ArtworkWebhook

ArtworkStatus = Literal["starting", "processing", "succeeded", "failed", "canceled"]

ARTWORK_STATUS: dict[JobStatus, ArtworkStatus] = {
    JobStatus.ACCEPTED: "starting",
    JobStatus.PROCESSING: "processing",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "canceled",
}


def artwork(record: JobRecord, output_url: str | None) -> ArtworkWebhook:
    """The artwork object (seed 001) for a job record."""
    source = record.request.input
    chosen = record.request.options.format.value
    output_format: Literal["auto", "png", "webp"] = (
        "png" if chosen == "png" else "webp" if chosen == "webp" else "auto"
    )
    return ArtworkWebhook(
        id=record.request_id,
        parameters=ArtworkParameters(
            image_url=str(source.url) if isinstance(source, UrlInput) else None,
            webhook=str(record.request.webhook_url) if record.request.webhook_url else None,
            output_format=output_format,
        ),
        duration=round((record.duration_ms or 0.0) / 1000, 3),
        results=[output_url] if output_url else [],
        status=ARTWORK_STATUS[record.status],
        created_at=record.created_at,
    )
