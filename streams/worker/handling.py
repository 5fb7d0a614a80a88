"""What the processor does with one consumed message, independent of Faust.

``Processor.handle`` turns one message into one :class:`Delivery`: what to publish where.
Nothing is ever dropped:

- a schema-violating or unparseable message → the dead-letter topic (and a failed event
  when it carries a usable request id);
- a request whose job record is already finished → that record's result, republished
  with its original event id, without recomputing anything;
- a permanent error (bad image, missing input, refused URL…) → a failed event at once;
- a transient error (store or URL unavailable, timeout) → the next retry topic, until the
  attempts run out → a failed event plus a dead letter with the reason;
- success → the output object, the job record, a completed event.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from processors import RemovalResult, Remover
from schemas.errors import CutstreamError, ErrorCode
from schemas.events import (
    DeadLetter,
    ErrorInfo,
    ForegroundBox,
    ImageCompleted,
    ImageError,
    ImageFailed,
    ImageRequested,
    ImageResult,
    OutputInfo,
    S3Object,
    result_event_id,
)
from schemas.jobs import JobRecord, JobStatus
from streams import metrics
from streams.net.fetch import Fetcher
from streams.storage import jobs
from streams.storage.access import ReadAccess
from streams.storage.base import ObjectStore
from streams.storage.jobs import JobStore
from streams.storage.layout import output_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inbound:
    """A consumed message: its bytes, where it came from, previous attempts (header)."""

    value: bytes
    topic: str
    partition: int
    offset: int
    attempt: int = 0


@dataclass(frozen=True)
class RetryOrder:
    """Send ``value`` to retry tier ``tier`` (1-based) as attempt ``attempt``."""

    value: bytes
    key: bytes
    attempt: int
    tier: int
    delay_s: float


@dataclass(frozen=True)
class Delivery:
    """Everything to publish for one message (any combination may be empty)."""

    completed: ImageCompleted | None = None
    failed: ImageFailed | None = None
    retry: RetryOrder | None = None
    dead_letter: DeadLetter | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Delays of the retry tiers; attempts allowed = tiers + 1."""

    delays_s: Sequence[float] = (2.0, 10.0, 30.0)

    @property
    def max_attempts(self) -> int:
        return len(self.delays_s) + 1


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
        output=record.output,
        processing_ms=record.duration_ms or 0.0,
        attempts=max(record.attempts, 1),
        worker=record.worker or "",
    )
    return ImageCompleted(**_result_envelope(record, "completed"), payload=result)


def failed_event(record: JobRecord) -> ImageFailed:
    """The failed event a failed record stands for."""
    if record.error is None:
        raise ValueError(f"record {record.request_id} has not failed")
    error = ImageError(error=record.error, attempts=record.attempts)
    return ImageFailed(**_result_envelope(record, "failed"), payload=error)


def _error_info(exc: CutstreamError) -> ErrorInfo:
    return ErrorInfo(code=exc.code, message=exc.message, retryable=exc.retryable)


def _original(value: bytes) -> tuple[str, Literal["utf-8", "base64"]]:
    try:
        return value.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(value).decode("ascii"), "base64"


class Processor:
    """Handles one message at a time; many may be in flight (see :mod:`streams.worker.app`)."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        jobs_store: JobStore,
        remover: Remover,
        fetcher: Fetcher,
        access: ReadAccess,
        output_bucket: str,
        retry: RetryPolicy,
        executor: Executor,
        worker: str,
    ) -> None:
        self.store = store
        self.jobs = jobs_store
        self.remover = remover
        self.fetcher = fetcher
        self.access = access
        self.output_bucket = output_bucket
        self.retry = retry
        self.executor = executor
        self.worker = worker

    async def handle(self, message: Inbound) -> Delivery:
        try:
            request = ImageRequested.model_validate_json(message.value)
        except ValidationError as exc:
            return self._invalid(message, exc)
        attempt = message.attempt + 1
        extra = {"request_id": request.request_id, "account": request.account, "attempt": attempt}
        try:
            return await self._handle(request, attempt)
        except CutstreamError as exc:
            return await self._failure(request, message, attempt, exc)
        except Exception as exc:  # a bug: report it, do not retry forever
            log.exception("request %s failed unexpectedly", request.request_id, extra=extra)
            error = CutstreamError(f"internal error: {exc!r}")
            return await self._failure(request, message, attempt, error)

    async def _handle(self, request: ImageRequested, attempt: int) -> Delivery:
        record = await self.jobs.get(request.account, request.request_id)
        if record is not None and record.status is JobStatus.CANCELED:
            log.info("request %s was canceled; skipping it", request.request_id)
            metrics.REQUESTS.labels(outcome="canceled", code="").inc()
            return Delivery()
        if record is not None and record.status.finished:
            log.info(
                "request %s already %s; republishing its result",
                request.request_id,
                record.status,
                extra={"request_id": request.request_id},
            )
            metrics.REPUBLISHED.inc()
            if record.status is JobStatus.SUCCEEDED:
                return Delivery(completed=completed_event(record))
            return Delivery(failed=failed_event(record))
        record = jobs.attempt_started(record or jobs.accepted(request), self.worker)
        await self.jobs.put(record)
        started = time.perf_counter()
        data = await self._fetch(request)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            self.executor, self.remover.remove, data, request.payload.options
        )
        output = await self._store(request, result)
        event_id = result_event_id(request.account, request.request_id, "completed")
        record = await self.jobs.put(jobs.succeeded(record, output, event_id))
        elapsed = time.perf_counter() - started
        metrics.PROCESSING_SECONDS.observe(elapsed)
        metrics.REQUESTS.labels(outcome="succeeded", code="").inc()
        log.info(
            "request %s completed in %.0f ms",
            request.request_id,
            elapsed * 1000,
            extra={"request_id": request.request_id, "attempt": attempt},
        )
        return Delivery(completed=completed_event(record))

    async def _fetch(self, request: ImageRequested) -> bytes:
        source = request.payload.input
        if isinstance(source, S3Object):
            self.access.check(request.account, source.bucket, source.key)
            return await asyncio.to_thread(self.store.get, source.bucket, source.key)
        return await self.fetcher.fetch(str(source.url))

    async def _store(self, request: ImageRequested, result: RemovalResult) -> OutputInfo:
        key = output_key(request.account, request.request_id, result.extension)
        await asyncio.to_thread(
            self.store.put, self.output_bucket, key, result.data, result.content_type
        )
        box = result.foreground
        return OutputInfo(
            bucket=self.output_bucket,
            key=key,
            content_type=result.content_type,
            size_bytes=len(result.data),
            width=result.width,
            height=result.height,
            foreground=ForegroundBox(left=box.left, top=box.top, width=box.width, height=box.height)
            if box
            else None,
        )

    async def _failure(
        self, request: ImageRequested, message: Inbound, attempt: int, exc: CutstreamError
    ) -> Delivery:
        error = _error_info(exc)
        extra = {"request_id": request.request_id, "attempt": attempt, "code": str(exc.code)}
        if exc.retryable and attempt < self.retry.max_attempts:
            delay = self.retry.delays_s[attempt - 1]
            log.warning(
                "request %s: %s; retry %d in %.0f s",
                request.request_id,
                exc,
                attempt,
                delay,
                extra=extra,
            )
            await self._record_best_effort(request, lambda r: jobs.retry_scheduled(r, error))
            metrics.RETRIES.labels(tier=str(attempt)).inc()
            order = RetryOrder(message.value, request.request_id.encode(), attempt, attempt, delay)
            return Delivery(retry=order)
        event_id = result_event_id(request.account, request.request_id, "failed")
        record = await self._record_best_effort(request, lambda r: jobs.failed(r, error, event_id))
        log.warning("request %s failed: %s", request.request_id, exc, extra=extra)
        metrics.REQUESTS.labels(outcome="failed", code=str(exc.code)).inc()
        failed = (
            failed_event(record)
            if record is not None and record.status is JobStatus.FAILED
            else ImageFailed(
                event_id=event_id,
                request_id=request.request_id,
                account=request.account,
                trace_id=request.trace_id,
                payload=ImageError(error=error, attempts=attempt),
            )
        )
        dead = None
        if exc.retryable:  # transient, but out of attempts
            dead = self._dead_letter(message, "retries_exhausted", error, request, attempt)
        return Delivery(failed=failed, dead_letter=dead)

    async def _record_best_effort(
        self, request: ImageRequested, change: Callable[[JobRecord], JobRecord]
    ) -> JobRecord | None:
        """Apply ``change`` to the job record; if the store is down, carry on without it
        (the events still tell the outcome, and a redelivery will write the record)."""
        try:
            record = await self.jobs.get(request.account, request.request_id)
            return await self.jobs.put(change(record or jobs.accepted(request)))
        except CutstreamError as exc:
            log.warning("could not update job record %s: %s", request.request_id, exc)
            return None

    def _invalid(self, message: Inbound, exc: ValidationError) -> Delivery:
        details = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(message)'}: {e['msg']}" for e in exc.errors()[:10]
        )
        request_id, account = self._usable_ids(message.value)
        reason: Literal["invalid_request", "unparseable"] = (
            "invalid_request" if request_id else "unparseable"
        )
        error = ErrorInfo(code=ErrorCode.INVALID_REQUEST, message=f"{reason}: {details}")
        log.warning(
            "dead-lettering %s at %s[%d]@%d: %s",
            reason,
            message.topic,
            message.partition,
            message.offset,
            details,
        )
        metrics.DEAD_LETTERS.labels(reason=reason).inc()
        metrics.REQUESTS.labels(outcome="failed", code=str(ErrorCode.INVALID_REQUEST)).inc()
        failed = None
        if request_id is not None:
            failed = ImageFailed(
                event_id=result_event_id(account or "default", request_id, "failed"),
                request_id=request_id,
                account=account or "default",
                payload=ImageError(error=error, attempts=0),
            )
        dead = self._dead_letter(message, reason, error, None, 0, request_id, account)
        return Delivery(failed=failed, dead_letter=dead)

    @staticmethod
    def _usable_ids(value: bytes) -> tuple[str | None, str | None]:
        """The request id and account of a broken request, when they are themselves valid."""
        try:
            candidate = json.loads(value)
            probe = ImageFailed.model_validate(
                {
                    "request_id": candidate["request_id"],
                    "account": candidate.get("account", "default"),
                    "payload": {"error": {"code": "invalid_request", "message": ""}, "attempts": 0},
                }
            )
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError):
            return None, None
        return probe.request_id, probe.account

    @staticmethod
    def _dead_letter(
        message: Inbound,
        reason: Literal["unparseable", "invalid_request", "retries_exhausted"],
        error: ErrorInfo,
        request: ImageRequested | None,
        attempts: int,
        request_id: str | None = None,
        account: str | None = None,
    ) -> DeadLetter:
        original, encoding = _original(message.value)
        return DeadLetter(
            reason=reason,
            error=error,
            request_id=request.request_id if request else request_id,
            account=request.account if request else account,
            source_topic=message.topic,
            source_partition=message.partition,
            source_offset=message.offset,
            attempts=attempts,
            original=original,
            original_encoding=encoding,
        )
