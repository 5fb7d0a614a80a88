"""Job-record transitions: idempotent, and a finished record never goes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.errors import ErrorCode
from schemas.events import ErrorInfo, ImageRequested, OutputInfo
from schemas.jobs import JobStatus
from streams.storage import jobs
from streams.storage.jobs import JobStore
from streams.storage.memory import MemoryObjectStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OUTPUT = OutputInfo(
    bucket="outputs", key="acme/r.png", content_type="image/png", size_bytes=1, width=1, height=1
)
ERROR = ErrorInfo(code=ErrorCode.INVALID_IMAGE_FORMAT, message="bad")


def request() -> ImageRequested:
    return ImageRequested.model_validate(
        {
            "request_id": "r",
            "account": "acme",
            "trace_id": "t",
            "payload": {"input": {"bucket": "inputs", "key": "k"}},
        }
    )


def test_lifecycle_accepted_processing_succeeded() -> None:
    record = jobs.accepted(request(), T0)
    assert record.status is JobStatus.ACCEPTED
    record = jobs.attempt_started(record, "w1", T0 + timedelta(seconds=1))
    assert (record.status, record.attempts, record.worker) == (JobStatus.PROCESSING, 1, "w1")
    record = jobs.succeeded(record, [OUTPUT], "event-1", T0 + timedelta(seconds=3))
    assert record.status is JobStatus.SUCCEEDED
    assert record.duration_ms == pytest.approx(2000)
    assert record.output == OUTPUT
    assert record.result_event_id == "event-1"
    assert [step.status for step in record.history] == [
        JobStatus.ACCEPTED,
        JobStatus.PROCESSING,
        JobStatus.SUCCEEDED,
    ]


def test_a_finished_record_never_goes_back() -> None:
    done = jobs.succeeded(jobs.attempt_started(jobs.accepted(request()), "w"), [OUTPUT], "e")
    assert jobs.attempt_started(done, "w2") is done
    assert jobs.failed(done, ERROR, "other") is done
    assert jobs.retry_scheduled(done, ERROR) is done
    assert jobs.succeeded(done, [OUTPUT], "again") is done


def test_only_an_operators_replay_reopens_a_failed_record() -> None:
    failed = jobs.failed(jobs.attempt_started(jobs.accepted(request()), "w"), ERROR, "e1")
    reopened = jobs.reopened(failed, T0)
    assert (reopened.status, reopened.error, reopened.finished_at) == (
        JobStatus.ACCEPTED,
        None,
        None,
    )
    assert reopened.result_event_id is None
    assert reopened.attempts == 1  # the history of the failure stays
    assert reopened.history[-1].note == "replayed from a dead letter after invalid_image_format"
    assert jobs.attempt_started(reopened, "w2").status is JobStatus.PROCESSING
    done = jobs.succeeded(jobs.attempt_started(jobs.accepted(request()), "w"), [OUTPUT], "e")
    assert jobs.reopened(done) is done


def test_attempts_count_and_retries_keep_the_error() -> None:
    record = jobs.attempt_started(jobs.accepted(request()), "w")
    transient = ErrorInfo(code=ErrorCode.STORAGE_UNAVAILABLE, message="down", retryable=True)
    record = jobs.retry_scheduled(record, transient)
    record = jobs.attempt_started(record, "w")
    assert record.attempts == 2
    assert record.error == transient
    record = jobs.failed(record, ERROR, "e")
    assert (record.status, record.error) == (JobStatus.FAILED, ERROR)


async def test_store_round_trip_and_absent_record() -> None:
    store = MemoryObjectStore()
    store.ensure_bucket("jobs")
    job_store = JobStore(store, "jobs")
    assert await job_store.get("acme", "r") is None
    record = jobs.accepted(request())
    await job_store.put(record)
    assert store.exists("jobs", "acme/r.json")
    assert await job_store.get("acme", "r") == record
