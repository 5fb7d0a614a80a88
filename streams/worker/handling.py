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
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace

from cachetools import TTLCache
from pydantic import ValidationError

from processors import RemovalResult, Remover
from processors.compose import canvas_bytes
from schemas.batches import BatchItemDone, BatchState
from schemas.errors import CutstreamError, ErrorCode
from schemas.events import (
    SCHEMA_VERSION,
    DeadLetter,
    DeadLetterError,
    ErrorInfo,
    ForegroundBox,
    ImageCompleted,
    ImageError,
    ImageFailed,
    ImageRequested,
    OutputInfo,
    result_event_id,
)
from schemas.jobs import JobRecord, JobStatus
from schemas.refs import S3Object, UrlInput
from streams import metrics
from streams.messaging.locks import KeyedLocks
from streams.messaging.records import Record, dead_letter
from streams.net.fetch import Fetcher
from streams.storage import jobs
from streams.storage.access import ReadAccess, WriteAccess
from streams.storage.base import ObjectStore
from streams.storage.batches import BatchStore
from streams.storage.jobs import JobStore
from streams.worker.budget import MemoryBudget
from streams.worker.outputs import Backdrops, places
from streams.worker.rejects import Probe, Rejects
from streams.worker.results import (
    batch_item_done,
    batch_item_failed,
    completed_event,
    failed_event,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inbound(Record):
    """A consumed request record and its previous attempts (from a trusted header)."""

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
    batch_item: BatchItemDone | None = None
    """A batch item's outcome, for the batch tracker (beside its completed/failed event)."""


BULK_PRIORITY = 1
"""The model's priority of batch items (interactive requests have 0, so they go first)."""


class ItemCanceledError(CutstreamError):
    """The request is an item of a canceled batch (or its job was canceled) and had not
    run: it ends ``canceled``, so its batch still accounts for it."""

    code = ErrorCode.CANCELED


@dataclass(frozen=True)
class RetryPolicy:
    """Delays of the retry tiers; attempts allowed = tiers + 1."""

    delays_s: Sequence[float] = (2.0, 10.0, 30.0)

    @property
    def max_attempts(self) -> int:
        return len(self.delays_s) + 1


def _error_info(exc: CutstreamError) -> ErrorInfo:
    if exc.code is ErrorCode.MODEL_NOT_INSTALLED:
        # Its message names this machine's paths and an operator's command: for the log.
        log.error("model unavailable: %s", exc.message)
        return ErrorInfo(
            code=exc.code,
            message="the requested model is not available on this service "
            "(GET /v1/models lists those that are)",
            retryable=exc.retryable,
        )
    return ErrorInfo(code=exc.code, message=exc.message, retryable=exc.retryable)


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
        writes: WriteAccess,
        batches: BatchStore,
        output_bucket: str,
        retry: RetryPolicy,
        executor: Executor,
        worker: str,
        max_message_bytes: int,
        budget: MemoryBudget,
        backdrop_cache_bytes: int = 0,
    ) -> None:
        self.store = store
        self.jobs = jobs_store
        self.remover = remover
        self.fetcher = fetcher
        self.access = access
        self.writes = writes
        self.batches = batches
        self._canceled: TTLCache[tuple[str, str], bool] = TTLCache(maxsize=1024, ttl=1.0)
        self.output_bucket = output_bucket
        self.retry = retry
        self.executor = executor
        self.worker = worker
        self.max_message_bytes = max_message_bytes
        self.budget = budget
        self.rejects = Rejects(jobs_store, max_message_bytes)
        self._locks = KeyedLocks()
        self.backdrops = Backdrops(self._fetch, remover.limits, backdrop_cache_bytes)

    async def handle(self, message: Inbound) -> Delivery:
        """The outcome of one record. Raises only what is worth trying again as it is
        (the store unreachable while recording a rejection)."""
        probe = Probe.of(message.value)
        if probe.schema_version is not None and probe.schema_version > SCHEMA_VERSION:
            rejection = await self.rejects.unsupported(message, probe)
            return Delivery(failed=rejection.failed, dead_letter=rejection.dead_letter)
        try:
            request = ImageRequested.model_validate_json(message.value)
        except ValidationError as exc:
            rejection = await self.rejects.invalid(message, exc, probe)
            return Delivery(failed=rejection.failed, dead_letter=rejection.dead_letter)
        attempt = message.attempt + 1
        extra = {"request_id": request.request_id, "account": request.account, "attempt": attempt}
        # Copies of one request (a redelivery, a duplicate publish) reach the same worker —
        # they share a key, so a partition — and run one after the other: the second finds
        # the first's outcome and republishes it, nothing is computed twice.
        async with self._locks.hold((request.account, request.request_id)):
            try:
                delivery = await self._handle(request, message, attempt)
            except CutstreamError as exc:
                delivery = await self._failure(request, message, attempt, exc)
            except Exception as exc:  # a bug: report it, do not retry forever
                log.exception("request %s failed unexpectedly", request.request_id, extra=extra)
                error = CutstreamError(f"internal error: {exc!r}")
                delivery = await self._failure(request, message, attempt, error)
        return _with_batch_item(request, delivery)

    async def _batch_canceled(self, request: ImageRequested) -> bool:
        """Whether the request's batch has been canceled (looked up at most once a second
        per batch)."""
        item = request.payload.batch
        if item is None:
            return False
        key = (request.account, item.batch_id)
        if key not in self._canceled:
            batch = await self.batches.get(*key)
            self._canceled[key] = batch is not None and batch.state is BatchState.CANCELED
        return self._canceled[key]

    async def _handle(self, request: ImageRequested, message: Inbound, attempt: int) -> Delivery:
        record = await self.jobs.get(request.account, request.request_id)
        if (
            record is not None
            and record.request is not None
            and not record.request.same_work_as(request.payload)
        ):
            return self._conflicting(request, message)
        if record is not None and record.status is JobStatus.CANCELED:
            log.info("request %s was canceled; skipping it", request.request_id)
            metrics.REQUESTS.labels(outcome="canceled", code="").inc()
            if request.payload.batch is not None:  # its batch still needs its outcome
                raise ItemCanceledError(f"job {request.request_id} was canceled")
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
        if await self._batch_canceled(request):
            raise ItemCanceledError("its batch was canceled before it ran")
        specs = request.payload.specs()
        destinations = places(request, specs, self.output_bucket, self.writes)
        record = jobs.attempt_started(jobs.as_consumed(record, request), self.worker)
        await self.jobs.put(record)
        started = time.perf_counter()
        data = await self._fetch(request.account, request.payload.input)
        decoded_bytes = self.remover.header(data).decoded_bytes  # bad input fails here
        backdrops = await self.backdrops.fetched(request.account, specs)
        loop = asyncio.get_running_loop()
        # Batch items wait for the model behind interactive requests.
        priority = BULK_PRIORITY if request.payload.batch is not None else 0
        # Every rendition but the last works on a copy of the picture, one at a time; the
        # backdrops not in the cache are decoded inside the reservation, once each; a
        # canvas holds pictures of its own size.
        needed = decoded_bytes * min(len(specs), 2) + backdrops.decoded_bytes
        needed += sum(canvas_bytes(spec.options) for spec in specs)
        async with self.budget.reserve(needed):
            pictures = await backdrops.decode()
            results = await loop.run_in_executor(
                self.executor,
                self.remover.render,
                data,
                request.payload.options,
                [spec.options for spec in specs],
                pictures,
                priority,
            )
            del pictures  # the backdrops go with the reservation
        metrics.MODEL_SECONDS.observe(results[0].model_s)
        outputs = await asyncio.gather(
            *(
                self._store(place, result)
                for place, result in zip(destinations, results, strict=True)
            )
        )
        event_id = result_event_id(request.account, request.request_id, "completed")
        record = await self.jobs.put(jobs.succeeded(record, list(outputs), event_id))
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

    def _conflicting(self, request: ImageRequested, message: Inbound) -> Delivery:
        """A second, different request under a taken id: dead-lettered, and nothing else —
        the id's one result is the first request's. A batch item is its batch's row
        instead: failed with ``conflict``, so the batch still completes."""
        text = (
            f"request_id {request.request_id} is already used by a different request "
            "(other input or options); the first one stands"
        )
        if request.payload.batch is not None:
            log.warning("batch item %s/%s: %s", request.account, request.request_id, text)
            metrics.REQUESTS.labels(outcome="failed", code=str(ErrorCode.CONFLICT)).inc()
            return Delivery(batch_item=batch_item_failed(request, ErrorCode.CONFLICT, text))
        log.warning(
            "request id %s/%s already names a different request; dead-lettering this one",
            request.account,
            request.request_id,
        )
        metrics.DEAD_LETTERS.labels(reason="conflicting_duplicate").inc()
        error = DeadLetterError(code=ErrorCode.CONFLICT, message=text)
        letter = dead_letter(
            message,
            "conflicting_duplicate",
            error,
            max_message_bytes=self.max_message_bytes,
            request_id=request.request_id,
            account=request.account,
            trace_id=request.trace_id,
        )
        return Delivery(dead_letter=letter)

    async def _fetch(self, account: str, source: S3Object | UrlInput) -> bytes:
        """An input (or background image) by reference: an object the account may read,
        or a URL through the guard."""
        if isinstance(source, S3Object):
            self.access.check(account, source.bucket, source.key)
            return await asyncio.to_thread(self.store.get, source.bucket, source.key)
        return await self.fetcher.fetch(str(source.url))

    async def _store(self, place: S3Object, result: RemovalResult) -> OutputInfo:
        await asyncio.to_thread(
            self.store.put, place.bucket, place.key, result.data, result.content_type
        )
        box = result.foreground
        return OutputInfo(
            bucket=place.bucket,
            key=place.key,
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
                payload=ImageError(
                    error=error, attempts=attempt, credits_refunded=request.payload.credits
                ),
            )
        )
        dead = None
        if exc.retryable:  # transient, but out of attempts
            dead = dead_letter(
                message,
                "retries_exhausted",
                error,
                max_message_bytes=self.max_message_bytes,
                request_id=request.request_id,
                account=request.account,
                trace_id=request.trace_id,
                attempts=attempt,
            )
        return Delivery(failed=failed, dead_letter=dead)

    async def _record_best_effort(
        self, request: ImageRequested, change: Callable[[JobRecord], JobRecord]
    ) -> JobRecord | None:
        """Apply ``change`` to the job record; if the store is down, carry on without it
        (the events still tell the outcome, and a redelivery will write the record)."""
        try:
            record = await self.jobs.get(request.account, request.request_id)
            return await self.jobs.put(change(jobs.as_consumed(record, request)))
        except CutstreamError as exc:
            log.warning("could not update job record %s: %s", request.request_id, exc)
            return None


def _with_batch_item(request: ImageRequested, delivery: Delivery) -> Delivery:
    """``delivery`` plus its ``batch.item`` when the request is a batch item with an
    outcome (a retry or a dead-lettered duplicate has none yet)."""
    event = delivery.completed or delivery.failed
    if request.payload.batch is None or event is None:
        return delivery
    return replace(delivery, batch_item=batch_item_done(request, event))
