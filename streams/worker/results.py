"""The result event a finished job record stands for — the same bytes every time it is
(re)published: the record fixes the event id, the time and every field."""

from __future__ import annotations

from typing import Any

from schemas.batches import BatchItemDone, ResultRow
from schemas.errors import ErrorCode
from schemas.events import (
    ImageCompleted,
    ImageError,
    ImageFailed,
    ImageRequested,
    ImageResult,
    result_event_id,
)
from schemas.jobs import JobRecord
from schemas.refs import UrlInput


def _result_envelope(record: JobRecord, kind: str) -> dict[str, Any]:
    """The envelope of the result a finished record stands for: the same event id and
    time every time it is (re)published."""
    if record.finished_at is None:
        raise ValueError(f"record {record.request_id} has not finished")
    return {
        "event_id": record.result_event_id
        or result_event_id(record.account, record.request_id, kind),
        "request_id": record.request_id,
        "account": record.account,
        "trace_id": record.trace_id,
        "created_at": record.finished_at,
    }


def completed_event(record: JobRecord) -> ImageCompleted:
    """The completed event a succeeded record stands for."""
    if record.output is None:
        raise ValueError(f"record {record.request_id} has not succeeded")
    result = ImageResult(
        outputs=record.outputs,
        processing_ms=record.duration_ms or 0.0,
        attempts=max(record.attempts, 1),
        worker=record.worker or "",
        credits_charged=record.request.credits if record.request is not None else 0,
    )
    return ImageCompleted(**_result_envelope(record, "completed"), payload=result)


def failed_event(record: JobRecord) -> ImageFailed:
    """The failed event a failed record stands for."""
    if record.error is None:
        raise ValueError(f"record {record.request_id} has not failed")
    error = ImageError(
        error=record.error,
        attempts=record.attempts,
        credits_refunded=record.request.credits if record.request is not None else 0,
    )
    return ImageFailed(**_result_envelope(record, "failed"), payload=error)


def _item_done(request: ImageRequested, **row: Any) -> BatchItemDone:
    """The ``batch.item`` of batch item ``request`` with ``row``'s outcome fields."""
    item = request.payload.batch
    if item is None:
        raise ValueError(f"request {request.request_id} is not a batch item")
    source = request.payload.input
    fields = {
        "index": item.index,
        "item_id": item.item_id,
        "input": str(source.url)
        if isinstance(source, UrlInput)
        else f"s3://{source.bucket}/{source.key}",
        "request_id": request.request_id,
    }
    return BatchItemDone(
        batch_id=item.batch_id, account=request.account, row=ResultRow(**fields, **row)
    )


def batch_item_failed(request: ImageRequested, code: ErrorCode, message: str) -> BatchItemDone:
    """The ``batch.item`` of a batch item that failed (``canceled`` when its code is)."""
    return _item_done(
        request,
        status="canceled" if code is ErrorCode.CANCELED else "failed",
        error_code=code,
        error_message=message,
    )


def batch_item_done(request: ImageRequested, event: ImageCompleted | ImageFailed) -> BatchItemDone:
    """The ``batch.item`` a batch item's result stands for (the tracker's row)."""
    if isinstance(event, ImageFailed):
        error = event.payload.error
        return batch_item_failed(request, error.code, error.message)
    output = event.payload.output
    box = output.foreground
    return _item_done(
        request,
        status="succeeded",
        output_bucket=output.bucket,
        output_key=output.key,
        content_type=output.content_type,
        bytes=output.size_bytes,
        width=output.width,
        height=output.height,
        foreground=(box.left, box.top, box.width, box.height) if box else None,
        more_outputs=[f"s3://{o.bucket}/{o.key}" for o in event.payload.outputs[1:]],
        credits=event.payload.credits_charged,
    )
