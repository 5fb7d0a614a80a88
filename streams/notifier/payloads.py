"""Webhook bodies in the three shapes a request may ask for (``webhook_format``).

- ``native`` — Standard Webhooks style ``{type, timestamp, data}``;
- ``jobs`` — the jobs shape's ``{jobId, status, outputUrl | errorMessage, completedAt}``;
- ``artworks`` — the artworks shape's artwork object.

Each carries a presigned output URL valid for ``outputs.url_expiry_s``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from schemas.api.compat import artwork_of
from schemas.batches import BatchCompleted
from schemas.events import ImageCompleted, ImageFailed
from schemas.jobs import JobRecord
from schemas.webhooks import (
    BatchWebhook,
    DeliveryTask,
    JobsWebhook,
    NativeWebhook,
    NativeWebhookData,
    WebhookFormat,
)
from streams.storage.base import Presigner


class Payloads:
    """Builds delivery bodies; output links are presigned by ``presigner``."""

    def __init__(self, presigner: Presigner, url_expiry_s: int) -> None:
        self.presigner = presigner
        self.url_expiry_s = url_expiry_s

    def body(self, task: DeliveryTask, record: JobRecord | None) -> bytes:
        """The JSON body in the request's chosen shape (presigned output URL included); a
        batch's is always ``{type, timestamp, data}`` with its ``batch.completed``."""
        result = task.result
        if isinstance(result, BatchCompleted):
            batch = BatchWebhook(timestamp=datetime.now(UTC), data=result)
            return batch.model_dump_json().encode()
        output_url = self._output_url(result)
        completed_at = result.created_at
        if task.format is WebhookFormat.JOBS:
            payload = JobsWebhook(
                job_id=result.request_id,
                status="completed" if isinstance(result, ImageCompleted) else "failed",
                output_url=output_url,
                error_message=result.payload.error.message
                if isinstance(result, ImageFailed)
                else None,
                completed_at=completed_at,
            ).model_dump(mode="json", exclude_none=True)
        elif task.format is WebhookFormat.ARTWORKS and record is not None:
            payload = artwork_of(record, output_url).model_dump(mode="json")
        else:
            payload = self._native(result, record, output_url).model_dump(mode="json")
        return json.dumps(payload, separators=(",", ":")).encode()

    def _output_url(self, result: ImageCompleted | ImageFailed) -> str | None:
        if not isinstance(result, ImageCompleted):
            return None
        output = result.payload.output
        expiry = timedelta(seconds=self.url_expiry_s)
        return self.presigner.presigned_get_url(output.bucket, output.key, expiry)

    def _native(
        self, result: ImageCompleted | ImageFailed, record: JobRecord | None, output_url: str | None
    ) -> NativeWebhook:
        succeeded = isinstance(result, ImageCompleted)
        expires = datetime.now(UTC) + timedelta(seconds=self.url_expiry_s) if output_url else None
        return NativeWebhook(
            type=result.type,
            timestamp=datetime.now(UTC),
            data=NativeWebhookData(
                request_id=result.request_id,
                job_id=result.request_id,
                account=result.account,
                status="succeeded" if succeeded else "failed",
                output_url=output_url,
                output_url_expires_at=expires,
                output=result.payload.output if isinstance(result, ImageCompleted) else None,
                error=result.payload.error if isinstance(result, ImageFailed) else None,
                attempts=result.payload.attempts,
                created_at=record.created_at if record else result.created_at,
                completed_at=result.created_at,
                trace_id=result.trace_id,
            ),
        )
