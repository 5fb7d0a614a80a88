"""The planner: a batch's source in, one request per item out, on the bulk lane.

``Planner.plan`` works a batch to its end in bounded steps, each holding one of the
process's planning places (:class:`~streams.batches.turns.FairTurns`, shared round-robin
between accounts) only for the step:

1. **Read the source once** (:mod:`streams.batches.sources`) into chunks of items kept
   beside the batch record; the record gets the total. A failure that may pass (a host
   that does not answer) is tried again after ``batches.source_retry_delays_s`` — without
   holding a place — and then fails the batch (`failed`, with its ``source_error``); any
   other source error fails it at once.
2. **Queue a chunk**: each item's ``image.requested`` — request id ``<batch_id>.<index>``,
   output at the batch's prefix and name template — to ``topics.bulk_requests`` (or, on a
   plan that meters, through the ledger, :mod:`streams.batches.admission`); a row that
   cannot be an item goes straight to the tracker as a failed row. Then the count is
   checkpointed in the record and the place given up. Only as many items are queued as
   leave the account at most ``batches.max_outstanding_per_account`` queued without an
   outcome, so a big batch trickles in behind everyone else's.
3. **Close**: the record says ``running`` and the tracker gets ``batch.planned``.

Before every step the record is read again: a canceled batch stops at once (the items
never queued end ``canceled``: the record counts them as ``unqueued``), a restarted planner
resumes at the last checkpoint (items after it are queued again and answered from their
job records, never run twice).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import string
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator

from pydantic import ValidationError

from schemas.batches import (
    BatchItemDone,
    BatchPlanned,
    BatchRecord,
    BatchSpec,
    BatchState,
    PrefixSource,
    ResultRow,
    SourceError,
    SourceItem,
)
from schemas.errors import SOURCE_CODES, CutstreamError, ErrorCode
from schemas.events import BatchItemRef, ImageRequest, ImageRequested, batch_request_id, utc_now
from schemas.refs import S3Object
from schemas.renditions import rendition_options
from streams import metrics
from streams.batches.admission import Admission, Refused, Throttled
from streams.batches.sources import SourceLimits, prefix_items, spool_manifest, spooled_items
from streams.batches.turns import FairTurns
from streams.config.settings import Settings
from streams.net.fetch import Fetcher, InputFetchError
from streams.net.urlguard import UrlUnresolvableError
from streams.storage.base import ObjectStore
from streams.storage.batches import BatchStore
from streams.storage.layout import batch_output_prefix

log = logging.getLogger(__name__)

Send = Callable[[str, bytes, bytes], Awaitable[None]]
"""(topic, key, value) → queued with the producer (not necessarily delivered yet)."""
Flush = Callable[[], Awaitable[None]]
"""Wait until everything queued with the producer is delivered."""

_PASSING = (InputFetchError, UrlUnresolvableError)
"""Source errors that may pass (the source's host, not ours): tried again, a few times."""


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
        self.limits = settings.batches
        self.store = store
        self.batches = batches
        self.fetcher = fetcher
        self.admission = admission
        self.send = send
        self.flush = flush
        self.turns = FairTurns(self.limits.plan_at_once, self.limits.plan_per_account)
        self._planning: set[tuple[str, str]] = set()
        self._queued: dict[str, dict[str, int]] = defaultdict(dict)
        """Per account, its batches this process queued items of and that may still have
        some without an outcome: batch id → items queued."""

    async def plan(self, account: str, batch_id: str) -> None:
        """Work the batch until every item is queued (or it is canceled or fails), then
        announce its total. Raises only transient errors (the store or Kafka unreachable):
        the caller runs it again later, and it resumes at the last checkpoint. A batch this
        process is planning already is left to that call."""
        key = (account, batch_id)
        if key in self._planning:
            return
        self._planning.add(key)
        metrics.BATCHES_PLANNING.inc()
        try:
            await self._plan(account, batch_id)
        finally:
            self._planning.discard(key)
            metrics.BATCHES_PLANNING.dec()

    async def _plan(self, account: str, batch_id: str) -> None:
        not_before = 0.0
        logged = False
        while True:
            record = await self.batches.get(account, batch_id)
            if record is None:
                log.warning("batch %s/%s has no record; nothing to plan", account, batch_id)
                return
            if record.finished_at is not None:
                return
            if not logged:
                log.info("planning batch %s/%s from item %d", account, batch_id, record.queued)
                logged = True
            done = record.state in (BatchState.CANCELED, BatchState.FAILED) or (
                record.total is not None and record.queued >= record.total
            )
            if done:
                await self._close(record)
                return
            wait = not_before - time.monotonic()
            if wait > 0:  # the record is read again each poll: a cancel ends the wait
                await asyncio.sleep(min(wait, self.limits.outstanding_poll_s))
                continue
            if record.total is None:
                async with self.turns.turn(account):
                    delay = await self._read_source(record)
            else:
                room = await self._room(record)
                if room == 0:
                    delay = self.limits.outstanding_poll_s
                else:
                    async with self.turns.turn(account):
                        delay = await self._queue_chunk(record, room)
            not_before = time.monotonic() + delay

    # Reading the source -------------------------------------------------------------

    async def _read_source(self, record: BatchRecord) -> float:
        """Read the source into chunks and record the total; or count a failed read (how
        long to wait before the next) or fail the batch."""
        spec = record.spec
        try:
            total, truncated = await self._items_read(spec)
        except _PASSING as exc:
            if not exc.retryable:
                return await self._source_failed(spec, exc)
            attempts = record.source_attempts + 1
            delays = self.limits.source_retry_delays_s
            if attempts > len(delays):
                return await self._source_failed(spec, exc)
            log.warning(
                "batch %s/%s: reading the source failed (%s); again in %.0f s (%d of %d)",
                spec.account,
                spec.batch_id,
                exc.message,
                delays[attempts - 1],
                attempts,
                len(delays),
            )
            await self.batches.update(
                spec.account,
                spec.batch_id,
                lambda current: current.model_copy(update={"source_attempts": attempts}),
            )
            return delays[attempts - 1]
        except CutstreamError as exc:
            if exc.retryable:
                raise  # our store or Kafka: the handler tries again, for as long as it takes
            return await self._source_failed(spec, exc)

        def read(current: BatchRecord) -> BatchRecord:
            if current.total is not None:
                return current
            return current.model_copy(
                update={
                    "total": total,
                    "truncated": truncated,
                    "items_per_chunk": self.limits.checkpoint_every,
                }
            )

        await self.batches.update(spec.account, spec.batch_id, read)
        log.info("batch %s/%s: %d items read from the source", spec.account, spec.batch_id, total)
        return 0.0

    async def _items_read(self, spec: BatchSpec) -> tuple[int, bool]:
        """Read the source into chunks of items; (items, whether ``max_items`` cut it)."""
        source = spec.source
        settings = self.limits
        limits = SourceLimits(
            settings.max_manifest_bytes, settings.max_record_bytes, settings.source_timeout_s
        )
        if isinstance(source, PrefixSource):
            return await asyncio.to_thread(self._keep, spec, prefix_items(spec, source, self.store))
        with tempfile.TemporaryFile(prefix="cutstream-manifest-") as spool:
            await spool_manifest(source, self.store, self.fetcher, spool, limits)
            items = spooled_items(spec, spool, self.settings.s3.input_bucket, limits)
            return await asyncio.to_thread(self._keep, spec, items)

    def _keep(self, spec: BatchSpec, items: Iterator[SourceItem]) -> tuple[int, bool]:
        """Store ``items`` in chunks (blocking: runs on a thread, so parsing a large
        manifest never holds up the event loop)."""
        size, most = self.limits.checkpoint_every, self.limits.max_items
        chunk: list[SourceItem] = []
        count, truncated = 0, False
        for item in items:
            if item.index >= most:
                truncated = True
                break
            chunk.append(item)
            count = item.index + 1
            if len(chunk) == size:
                self.batches.put_items(spec.account, spec.batch_id, item.index // size, chunk)
                chunk = []
        if chunk:
            self.batches.put_items(spec.account, spec.batch_id, chunk[0].index // size, chunk)
        return count, truncated

    async def _source_failed(self, spec: BatchSpec, exc: CutstreamError) -> float:
        code = exc.code if exc.code in SOURCE_CODES else ErrorCode.MANIFEST_INVALID
        error = SourceError(code=code, message=exc.message[:1000])
        log.warning("batch %s/%s failed: %s", spec.account, spec.batch_id, error.message)

        def failed(current: BatchRecord) -> BatchRecord:
            if current.state is not BatchState.PLANNING:
                return current
            return current.model_copy(
                update={"state": BatchState.FAILED, "source_error": error, "total": 0}
            )

        await self.batches.update(spec.account, spec.batch_id, failed)
        return 0.0

    # Queueing items -------------------------------------------------------------------

    async def _room(self, record: BatchRecord) -> int:
        """How many more of the account's items may be queued now."""
        spec = record.spec
        mine = self._queued[spec.account]
        mine[spec.batch_id] = record.queued
        outstanding = 0
        for batch_id, queued in list(mine.items()):
            progress = await self.batches.progress(spec.account, batch_id)
            if (
                batch_id != spec.batch_id
                and progress.total is not None
                and (progress.done >= progress.total)
            ):
                del mine[batch_id]  # finished: nothing of it is waiting
                continue
            outstanding += max(0, queued - progress.done)
        return max(0, self.limits.max_outstanding_per_account - outstanding)

    async def _queue_chunk(self, record: BatchRecord, room: int) -> float:
        """Queue up to ``room`` items from the current chunk, then checkpoint; how long to
        wait before the next (the plan's per-minute limit)."""
        spec = record.spec
        size = record.items_per_chunk or self.limits.checkpoint_every
        chunk = await self.batches.items(spec.account, spec.batch_id, record.queued // size)
        metered = await self.admission.metered(spec.account)
        start = record.queued % size
        queued, wait = record.queued, 0.0
        for item in chunk[start : start + room]:
            throttled = await self._queue(spec, item, metered)
            if throttled is not None:
                wait = throttled.wait_s
                break
            queued = item.index + 1
        await self.flush()
        self._queued[spec.account][spec.batch_id] = queued
        await self.batches.update(
            spec.account, spec.batch_id, functools.partial(_queued, count=queued)
        )
        return wait

    async def _queue(self, spec: BatchSpec, item: SourceItem, metered: bool) -> Throttled | None:
        """Send ``item``'s request to the bulk lane (or have the ledger admit and send it),
        or its failure to the tracker."""
        topics = self.settings.topics
        outcome: ImageRequested | Refused | Throttled | None = self._request(spec, item)
        if isinstance(outcome, ImageRequested):
            if not metered:
                value = outcome.model_dump_json().encode()
                await self.send(topics.bulk_requests, outcome.request_id.encode(), value)
                return None
            outcome = await self.admission.reserve(outcome)
        if outcome is None or isinstance(outcome, Throttled):
            return outcome
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
        return None

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

    # Closing ------------------------------------------------------------------------

    async def _close(self, record: BatchRecord) -> None:
        """Every item that will be queued is: record it and tell the tracker how many
        outcomes to wait for."""
        spec = record.spec

        def closed(current: BatchRecord) -> BatchRecord:
            if current.planned_at is not None:
                return current
            update: dict[str, object] = {"planned_at": utc_now()}
            if current.state is BatchState.PLANNING:
                update["state"] = BatchState.RUNNING
            elif current.state is BatchState.CANCELED:
                total = current.total if current.total is not None else current.queued
                update |= {"total": total, "unqueued": total - current.queued}
            return current.model_copy(update=update)

        record = await self.batches.update(spec.account, spec.batch_id, closed)
        if record.state is BatchState.RUNNING:
            self._queued[spec.account][spec.batch_id] = record.queued
        else:
            self._queued[spec.account].pop(spec.batch_id, None)
        planned = BatchPlanned(batch_id=spec.batch_id, account=spec.account, total=record.queued)
        await self.send(
            self.settings.topics.batch_progress,
            spec.batch_id.encode(),
            planned.model_dump_json().encode(),
        )
        await self.flush()
        log.info(
            "batch %s/%s planned: %d items queued (%s)",
            spec.account,
            spec.batch_id,
            record.queued,
            record.state,
        )


def _queued(record: BatchRecord, count: int) -> BatchRecord:
    return record.model_copy(update={"queued": max(record.queued, count)})
