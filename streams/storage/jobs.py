"""Job records in the object store: one JSON document per request, written idempotently.

Key: :func:`streams.storage.layout.job_key` in ``s3.jobs_bucket``. The transitions are pure
functions of (record, facts) so that they are testable on their own; a finished record is
returned unchanged by every transition, so a late or repeated write cannot undo an outcome.
Only the worker that owns the request's partition writes its record, so there is one
writer at a time, and its writes need no condition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from schemas.events import ErrorInfo, ImageRequested, OutputInfo, utc_now
from schemas.jobs import JobRecord, JobStatus, Transition
from streams.exceptions import ObjectNotFoundError, StorageUnavailableError
from streams.storage.base import ObjectStore
from streams.storage.layout import job_key


def accepted(request: ImageRequested, at: datetime | None = None) -> JobRecord:
    """A new record for a request nobody has started."""
    at = at or utc_now()
    return JobRecord(
        request_id=request.request_id,
        account=request.account,
        status=JobStatus.ACCEPTED,
        request=request.payload,
        trace_id=request.trace_id,
        created_at=request.created_at,
        updated_at=at,
        history=[Transition(status=JobStatus.ACCEPTED, at=at)],
    )


def as_consumed(record: JobRecord | None, request: ImageRequested) -> JobRecord:
    """The record of ``request`` carrying the request as the worker consumed it — the
    ledger's copy, which says what credits it holds, so that whatever outcome follows
    (a failure before anything ran included) charges or refunds exactly those. A finished
    record, or one that names other work, is left as it is."""
    if record is None:
        return accepted(request)
    if record.status.finished or (
        record.request is not None and not record.request.same_work_as(request.payload)
    ):
        return record
    return record.model_copy(update={"request": request.payload})


def rejected(
    request_id: str,
    account: str,
    trace_id: str | None,
    error: ErrorInfo,
    event_id: str,
    at: datetime | None = None,
) -> JobRecord:
    """The failed record of a request event that was itself invalid (no request to keep)."""
    at = at or utc_now()
    return JobRecord(
        request_id=request_id,
        account=account,
        status=JobStatus.FAILED,
        request=None,
        trace_id=trace_id,
        created_at=at,
        updated_at=at,
        finished_at=at,
        error=error,
        result_event_id=event_id,
        history=[Transition(status=JobStatus.FAILED, at=at, note="invalid request")],
    )


def _moved(
    record: JobRecord, status: JobStatus, at: datetime, note: str | None = None, **changes: Any
) -> JobRecord:
    step = Transition(status=status, at=at, attempt=record.attempts, note=note)
    return record.model_copy(
        update={"status": status, "updated_at": at, "history": [*record.history, step], **changes}
    )


def attempt_started(record: JobRecord, worker: str, at: datetime | None = None) -> JobRecord:
    """Processing begins (again): count the attempt."""
    if record.status.finished:
        return record
    at = at or utc_now()
    record = record.model_copy(update={"attempts": record.attempts + 1})
    return _moved(
        record, JobStatus.PROCESSING, at, worker=worker, started_at=record.started_at or at
    )


def retry_scheduled(record: JobRecord, error: ErrorInfo, at: datetime | None = None) -> JobRecord:
    """A transient error: the request goes to a retry topic; remember why."""
    if record.status.finished:
        return record
    return _moved(record, JobStatus.PROCESSING, at or utc_now(), error=error, note="retrying")


def _finished(
    record: JobRecord, status: JobStatus, event_id: str, at: datetime | None, **changes: Any
) -> JobRecord:
    """The outcome, once: a finished record is returned unchanged."""
    if record.status.finished:
        return record
    at = at or utc_now()
    duration = (at - record.started_at).total_seconds() * 1000 if record.started_at else None
    return _moved(
        record,
        status,
        at,
        finished_at=at,
        duration_ms=duration,
        result_event_id=event_id,
        **changes,
    )


def succeeded(
    record: JobRecord, outputs: Sequence[OutputInfo], event_id: str, at: datetime | None = None
) -> JobRecord:
    """Succeeded with ``outputs`` (its renditions; the first is ``output``)."""
    return _finished(
        record,
        JobStatus.SUCCEEDED,
        event_id,
        at,
        outputs=list(outputs),
        error=None,
    )


def failed(
    record: JobRecord, error: ErrorInfo, event_id: str, at: datetime | None = None
) -> JobRecord:
    return _finished(record, JobStatus.FAILED, event_id, at, error=error)


def reopened(record: JobRecord, at: datetime | None = None) -> JobRecord:
    """A failed request replayed from its dead letter (by an operator): back to
    ``accepted``, its failure kept in the history, so the replay runs again. Any other
    record is returned unchanged."""
    if record.status is not JobStatus.FAILED:
        return record
    cause = record.error.code if record.error is not None else "a failure"
    return _moved(
        record,
        JobStatus.ACCEPTED,
        at or utc_now(),
        note=f"replayed from a dead letter after {cause}",
        finished_at=None,
        result_event_id=None,
        error=None,
    )


def canceled(record: JobRecord, at: datetime | None = None) -> JobRecord:
    """Canceled before it started; a later attempt finds it finished and does nothing."""
    if record.status.finished or record.status is JobStatus.PROCESSING:
        return record
    at = at or utc_now()
    return _moved(record, JobStatus.CANCELED, at, finished_at=at)


class JobStore:
    """Reads and writes job records (blocking calls run in threads).

    ``create`` and ``replace`` are conditional writes: of concurrent creators of one
    record exactly one succeeds, and a replace based on a version someone else has changed
    since fails — the first request under an id wins, and a cancel cannot overwrite a
    worker's progress.
    """

    def __init__(self, store: ObjectStore, bucket: str) -> None:
        self.store = store
        self.bucket = bucket

    async def get(self, account: str, request_id: str) -> JobRecord | None:
        """The record, or ``None`` if there is none."""
        found = await self.get_versioned(account, request_id)
        return found[0] if found else None

    async def get_versioned(self, account: str, request_id: str) -> tuple[JobRecord, str] | None:
        """The record and its version (ETag), or ``None`` if there is none. A record that
        does not parse is :class:`StorageUnavailableError` (it is never overwritten blind)."""
        try:
            data, etag = await asyncio.to_thread(
                self.store.get_with_etag, self.bucket, job_key(account, request_id)
            )
        except ObjectNotFoundError:
            return None
        try:
            return JobRecord.model_validate_json(data), etag
        except ValidationError as exc:
            raise StorageUnavailableError(
                f"job record {account}/{request_id} is unreadable: {exc.error_count()} error(s)"
            ) from exc

    async def put(self, record: JobRecord) -> JobRecord:
        """Write the record, whatever is there (its partition's worker is its one writer)."""
        await asyncio.to_thread(
            self.store.put,
            self.bucket,
            job_key(record.account, record.request_id),
            record.model_dump_json().encode(),
            "application/json",
        )
        return record

    async def create(self, record: JobRecord) -> tuple[bool, JobRecord | None]:
        """Write the record unless one exists for its request id: whether it was written,
        and the record that stands instead if not (``None`` when there is none any more,
        say withdrawn meanwhile)."""
        if await asyncio.to_thread(
            self.store.put_if_absent,
            self.bucket,
            job_key(record.account, record.request_id),
            record.model_dump_json().encode(),
            "application/json",
        ):
            return True, None
        return False, await self.get(record.account, record.request_id)

    async def replace(self, record: JobRecord, version: str) -> bool:
        """Write the record only if the stored one is still ``version``."""
        return await asyncio.to_thread(
            self.store.put_if_match,
            self.bucket,
            job_key(record.account, record.request_id),
            record.model_dump_json().encode(),
            "application/json",
            version,
        )

    async def withdraw(self, account: str, request_id: str) -> None:
        """Free the request id (a claim whose request was never published)."""
        await asyncio.to_thread(self.store.delete, self.bucket, job_key(account, request_id))
