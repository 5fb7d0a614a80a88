"""The planner: a batch's source in, one request per item out, on the bulk lane.

``Planner.plan`` streams the source (:mod:`streams.batches.sources`) and sends each item's
``image.requested`` — request id ``<batch_id>.<index>``, output at the batch's prefix and
name template — to ``topics.bulk_requests``, without waiting for each send; every
``batches.checkpoint_every`` items it waits until Kafka has them all and writes the count
to the batch record. A planner restarted after a crash re-reads the source and sends only
from the last checkpoint on; items sent twice share a request id, so a worker answers the
second from its job record. A row that cannot be an item, and every item past
``batches.max_items``, never reaches a worker: rows are reported straight to the tracker
as `invalid_request`; the source stops at the limit. When the source ends, the record gets
its total and ``batch.planned`` goes to the tracker.

Metering: on a plan that meters, each item is reserved through the ledger, which queues
it (:mod:`streams.batches.admission`); a refused item is reported as a failed row with the
refusal's code.
"""

from __future__ import annotations

import functools
import logging
import string
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from schemas.batches import (
    BatchItemDone,
    BatchPlanned,
    BatchRecord,
    BatchSpec,
    BatchState,
    ResultRow,
)
from schemas.errors import FAILURE_CODES, CutstreamError, ErrorCode
from schemas.events import (
    BatchItemRef,
    ErrorInfo,
    ImageRequest,
    ImageRequested,
    batch_request_id,
    utc_now,
)
from schemas.refs import S3Object
from schemas.renditions import rendition_options
from streams.batches.admission import Admission, Refused
from streams.batches.sources import SourceError, SourceItem, source_items
from streams.config.settings import Settings
from streams.net.fetch import Fetcher
from streams.storage.base import ObjectStore
from streams.storage.batches import BatchStore
from streams.storage.layout import batch_output_prefix

log = logging.getLogger(__name__)

Send = Callable[[str, bytes, bytes], Awaitable[None]]
"""(topic, key, value) → queued with the producer (not necessarily delivered yet)."""
Flush = Callable[[], Awaitable[None]]
"""Wait until everything queued with the producer is delivered."""


def output_location(
    spec: BatchSpec, item: SourceItem, extension: str, default_bucket: str
) -> S3Object:
    """Where ``item``'s output goes: the batch's prefix plus its name template filled in.
    :class:`ValueError` if the template names a field the item lacks or the key is bad."""
    output = spec.output
    prefix = (
        output.prefix
        if output.prefix is not None
        else batch_output_prefix(spec.account, spec.batch_id)
    )
    values = {
        **item.fields,
        "id": item.item_id,
        "index": str(item.index),
        "ext": extension,
        "batch_id": spec.batch_id,
    }
    try:
        name = string.Formatter().vformat(output.name_template, (), values)
    except (KeyError, IndexError) as exc:
        raise ValueError(f"the name template needs {exc} and the item has no such field") from None
    return S3Object.model_validate(
        {"bucket": output.bucket or default_bucket, "key": prefix + name}
    )


class Planner:
    """Plans batches; one instance per batch-service process."""

    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        batches: BatchStore,
        fetcher: Fetcher,
        admission: Admission,
        send: Send,
        flush: Flush,
    ) -> None:
        self.settings = settings
        self.store = store
        self.batches = batches
        self.fetcher = fetcher
        self.admission = admission
        self.send = send
        self.flush = flush

    async def plan(self, account: str, batch_id: str) -> None:
        """Queue every item of the batch not yet queued, then announce its total.
        Raises only transient errors (the store or Kafka unreachable): the caller runs it
        again later, and it resumes at the last checkpoint."""
        record = await self.batches.get(account, batch_id)
        if record is None:
            log.warning("batch %s/%s has no record; nothing to plan", account, batch_id)
            return
        if record.total is None:
            record = await self._queue_items(record)
        assert record.total is not None
        planned = BatchPlanned(batch_id=batch_id, account=account, total=record.total)
        await self.send(
            self.settings.topics.batch_progress,
            batch_id.encode(),
            planned.model_dump_json().encode(),
        )
        await self.flush()
        log.info("batch %s/%s planned: %d items", account, batch_id, record.total)

    async def _queue_items(self, record: BatchRecord) -> BatchRecord:
        spec = record.spec
        limits = self.settings.batches
        start, count, truncated = record.queued, 0, False
        source_error: ErrorInfo | None = None
        metered = await self.admission.metered(spec.account)
        log.info(
            "planning batch %s/%s from item %d%s",
            spec.account,
            spec.batch_id,
            start,
            " (metered: each item through the ledger)" if metered else "",
        )
        try:
            async for item in source_items(
                spec, self.store, self.fetcher, self.settings.s3.input_bucket
            ):
                if item.index >= limits.max_items:
                    truncated = True
                    break
                count = item.index + 1
                if item.index < start:
                    continue
                await self._queue(spec, item, metered)
                if count % limits.checkpoint_every == 0:
                    await self.flush()
                    await self.batches.update(
                        spec.account, spec.batch_id, functools.partial(_queued, count=count)
                    )
        except SourceError as exc:
            source_error = ErrorInfo(code=ErrorCode.INVALID_REQUEST, message=str(exc))
        except CutstreamError as exc:
            if exc.retryable:
                raise
            source_error = ErrorInfo(code=_failure_code(exc.code), message=exc.message)
        await self.flush()
        if source_error is not None:
            log.warning(
                "batch %s/%s: source stopped at item %d: %s",
                spec.account,
                spec.batch_id,
                count,
                source_error.message,
            )

        def planned(current: BatchRecord) -> BatchRecord:
            return current.model_copy(
                update={
                    "queued": count,
                    "total": count,
                    "truncated": truncated,
                    "source_error": source_error,
                    "planned_at": utc_now(),
                    "state": BatchState.RUNNING
                    if current.state is BatchState.PLANNING
                    else current.state,
                }
            )

        return await self.batches.update(spec.account, spec.batch_id, planned)

    async def _queue(self, spec: BatchSpec, item: SourceItem, metered: bool) -> None:
        """Send ``item``'s request to the bulk lane (or have the ledger admit and send it),
        or its failure to the tracker."""
        topics = self.settings.topics
        outcome: ImageRequested | Refused | None = self._request(spec, item)
        if isinstance(outcome, ImageRequested):
            if not metered:
                value = outcome.model_dump_json().encode()
                await self.send(topics.bulk_requests, outcome.request_id.encode(), value)
                return
            outcome = await self.admission.reserve(outcome)
        if outcome is None:
            return
        row = ResultRow(
            index=item.index,
            item_id=item.item_id,
            input=item.raw_input,
            request_id=batch_request_id(spec.batch_id, item.index),
            status="failed",
            error_code=outcome.code,
            error_message=outcome.message[:1000],
        )
        done = BatchItemDone(batch_id=spec.batch_id, account=spec.account, row=row)
        await self.send(
            topics.batch_progress, spec.batch_id.encode(), done.model_dump_json().encode()
        )

    def _request(self, spec: BatchSpec, item: SourceItem) -> ImageRequested | Refused:
        """The item's request, or why it cannot have one."""
        if item.error is not None or item.input is None or item.options is None:
            return Refused(ErrorCode.INVALID_REQUEST, item.error or "no input")
        first = spec.outputs[0] if spec.outputs else None
        try:
            options = rendition_options(item.options, first) if first else item.options
            output = (
                None  # the first rendition names its own place
                if first is not None and (first.key or first.bucket)
                else output_location(
                    spec, item, options.format.extension, self.settings.s3.output_bucket
                )
            )
        except ValidationError as exc:
            return Refused(ErrorCode.INVALID_REQUEST, f"outputs[0]: {exc.errors()[0]['msg']}")
        except ValueError as exc:
            return Refused(ErrorCode.INVALID_REQUEST, f"cannot name its output: {exc}")
        ref = BatchItemRef(batch_id=spec.batch_id, index=item.index, item_id=item.item_id[:256])
        try:
            payload = ImageRequest(
                input=item.input,
                options=item.options,
                output=output,
                batch=ref,
                outputs=spec.outputs,
            )
        except ValidationError as exc:  # the row's options and a rendition disagree
            return Refused(ErrorCode.INVALID_REQUEST, str(exc.errors()[0]["msg"]))
        return ImageRequested(
            request_id=batch_request_id(spec.batch_id, item.index),
            account=spec.account,
            trace_id=f"batch:{spec.batch_id}",
            payload=payload,
        )


def _queued(record: BatchRecord, count: int) -> BatchRecord:
    return record.model_copy(update={"queued": max(record.queued, count)})


def _failure_code(code: ErrorCode) -> ErrorCode:
    return code if code in FAILURE_CODES else ErrorCode.INVALID_REQUEST
