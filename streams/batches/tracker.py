"""The tracker: items' outcomes in, per-batch counts and the results manifest out.

It reads ``topics.batch_progress`` (keyed by batch id, so one tracker owns each batch) a
window at a time (``batches.tracker_window_s``). For each batch in the window it counts the
items it has not seen before (a bitmap of indexes in ``progress.json``: a redelivered or
republished outcome is counted once), writes their rows as one chunk, then the progress —
and only then are the records acked. A crash before the progress write replays the window:
the chunk is written again under the same number (its rows are all still unacked), so each
item's row ends up in the chunks exactly once, whatever happens.

A batch is complete when its total is known (``batch.planned``: the items queued) and every
item has an outcome: the tracker merges the chunks into the results manifest (CSV and JSONL,
in source order; the items a cancel kept from being queued get ``canceled`` rows), marks the
record finished and publishes ``batch.completed`` (with a deterministic
event id, so a replay publishes the same event again, never a different one).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from schemas.batches import BatchCompleted, BatchItemDone, BatchPlanned, BatchRecord
from schemas.events import utc_now
from streams import metrics
from streams.storage.base import Presigner
from streams.storage.batches import BatchStore, Progress, finished_now

log = logging.getLogger(__name__)

Publish = Callable[[BatchCompleted], Awaitable[None]]


def completed_event_id(account: str, batch_id: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"cutstream:{account}/batches/{batch_id}#completed").hex


class Tracker:
    """Counts outcomes per batch and finishes batches; one per batch-service process."""

    def __init__(
        self,
        batches: BatchStore,
        presigner: Presigner,
        url_expiry: timedelta,
        publish: Publish,
    ) -> None:
        self.batches = batches
        self.presigner = presigner
        self.url_expiry = url_expiry
        self.publish = publish

    async def apply(self, events: Sequence[BatchItemDone | BatchPlanned]) -> None:
        """Apply one window of events (then they may be acked)."""
        by_batch: dict[tuple[str, str], list[BatchItemDone | BatchPlanned]] = defaultdict(list)
        for event in events:
            by_batch[(event.account, event.batch_id)].append(event)
        for (account, batch_id), batch_events in by_batch.items():
            progress = await self._count(account, batch_id, batch_events)
            await self._finish_if_done(account, batch_id, progress)

    async def _count(
        self, account: str, batch_id: str, events: list[BatchItemDone | BatchPlanned]
    ) -> Progress:
        # Read every window, not cached: after a rebalance another tracker may have
        # counted this batch meanwhile.
        progress = await self.batches.progress(account, batch_id)
        bits = progress.seen_bits()
        rows = []
        counts = {"succeeded": 0, "failed": 0, "canceled": 0}
        credits = size = 0
        total = progress.total
        for event in events:
            if isinstance(event, BatchPlanned):
                total = event.total
                continue
            row = event.row
            if bits >> row.index & 1:
                continue
            bits |= 1 << row.index
            rows.append(row)
            counts[row.status] += 1
            metrics.BATCH_ITEMS.labels(status=row.status).inc()
            credits += row.credits
            size += row.bytes or 0
        if not rows and total == progress.total:
            return progress
        now = utc_now()
        if rows:
            await self.batches.put_chunk(account, batch_id, progress.chunks, rows)
        progress = progress.with_bits(bits).model_copy(
            update={
                "total": total,
                "succeeded": progress.succeeded + counts["succeeded"],
                "failed": progress.failed + counts["failed"],
                "canceled": progress.canceled + counts["canceled"],
                "credits": progress.credits + credits,
                "bytes": progress.bytes + size,
                "chunks": progress.chunks + (1 if rows else 0),
                "first_at": progress.first_at or (now if rows else None),
                "last_at": now if rows else progress.last_at,
            }
        )
        await self.batches.put_progress(account, batch_id, progress)
        return progress

    async def _finish_if_done(self, account: str, batch_id: str, progress: Progress) -> None:
        if progress.total is None or progress.done < progress.total:
            return  # (the record is read only when the batch is done)
        record = await self.batches.get(account, batch_id)
        if record is None:
            return
        rows = await self.batches.final_rows(record)
        key = await self.batches.write_results(account, batch_id, rows, self._url)
        record = await self.batches.update(account, batch_id, finished_now)
        await self.publish(self._completed(record, progress, key))
        log.info(
            "batch %s/%s %s: %d succeeded, %d failed, %d canceled",
            account,
            batch_id,
            record.state,
            progress.succeeded,
            progress.failed,
            progress.canceled,
        )

    def _url(self, bucket: str, key: str) -> str:
        return self.presigner.presigned_get_url(bucket, key, self.url_expiry)

    def _completed(self, record: BatchRecord, progress: Progress, key: str) -> BatchCompleted:
        spec = record.spec
        return BatchCompleted(
            event_id=completed_event_id(spec.account, spec.batch_id),
            batch_id=spec.batch_id,
            account=spec.account,
            state=record.state,
            counts=progress.counts(record),
            results_url=self._url(self.batches.output_bucket, key),
            results_key=key,
            created_at=record.finished_at or utc_now(),
        )
