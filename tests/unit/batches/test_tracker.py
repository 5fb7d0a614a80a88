"""The tracker counts each item once, however often its outcome arrives, and finishes a
batch exactly when the planner's total is reached."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from schemas.batches import (
    BatchCompleted,
    BatchItemDone,
    BatchPlanned,
    BatchRecord,
    BatchSpec,
    BatchState,
    ResultRow,
)
from streams.batches.tracker import Tracker
from streams.storage.batches import BatchStore
from streams.storage.memory import MemoryObjectStore


def row(index: int, status: str = "succeeded") -> ResultRow:
    done = status == "succeeded"
    return ResultRow(
        index=index,
        item_id=f"item-{index}",
        input=f"s3://inputs/{index}.jpg",
        request_id=f"b1.{index}",
        status=status,
        output_bucket="outputs" if done else None,
        output_key=f"acme/batches/b1/item-{index}.png" if done else None,
        bytes=100 if done else None,
        error_code=None if done else "input_not_found",
        error_message=None if done else "gone",
    )


def item(index: int, status: str = "succeeded") -> BatchItemDone:
    return BatchItemDone(batch_id="b1", account="acme", row=row(index, status))


async def setup() -> tuple[BatchStore, Tracker, list[BatchCompleted]]:
    store = MemoryObjectStore()
    for bucket in ("jobs", "outputs"):
        store.ensure_bucket(bucket)
    batches = BatchStore(store, "jobs", "outputs")
    spec = BatchSpec.model_validate(
        {"batch_id": "b1", "account": "acme", "source": {"kind": "prefix", "bucket": "inputs"}}
    )
    await batches.create(BatchRecord(spec=spec))
    published: list[BatchCompleted] = []

    async def publish(event: BatchCompleted) -> None:
        published.append(event)

    return batches, Tracker(batches, store, timedelta(hours=1), publish), published


async def planned(batches: BatchStore, total: int) -> BatchPlanned:
    await batches.update(
        "acme", "b1", lambda r: r.model_copy(update={"total": total, "queued": total})
    )
    return BatchPlanned(batch_id="b1", account="acme", total=total)


async def test_repeated_outcomes_count_once_and_the_batch_finishes_at_its_total() -> None:
    batches, tracker, published = await setup()
    await tracker.apply([item(0), item(1, "failed"), item(0)])
    await tracker.apply([item(1, "failed"), item(2)])  # a redelivery and a new one
    progress = await batches.progress("acme", "b1")
    assert (progress.succeeded, progress.failed, progress.done) == (2, 1, 3)
    assert published == []  # the total is not known yet

    await tracker.apply([await planned(batches, 3)])
    record = await batches.get("acme", "b1")
    assert record is not None
    assert record.state is BatchState.COMPLETED
    assert record.finished_at is not None
    [event] = published
    assert event.counts.model_dump() == {
        "total": 3,
        "queued": 3,
        "succeeded": 2,
        "failed": 1,
        "canceled": 0,
    }
    manifest = batches.store.get("outputs", event.results_key).decode()
    rows = list(csv.DictReader(io.StringIO(manifest)))
    assert [(r["index"], r["status"]) for r in rows] == [
        ("0", "succeeded"),
        ("1", "failed"),
        ("2", "succeeded"),
    ]
    assert rows[0]["output_url"].startswith("memory://outputs/")
    assert rows[1]["error_code"] == "input_not_found"

    # A replayed window after the finish publishes the same event again, nothing else.
    await tracker.apply([item(2)])
    assert [e.event_id for e in published] == [event.event_id] * 2


async def test_a_chunk_rewritten_after_a_crash_leaves_each_row_once() -> None:
    batches, tracker, _ = await setup()
    await tracker.apply([item(0), item(1)])
    # A crash after writing chunk 1 but before the progress: the window comes again.
    await batches.put_chunk("acme", "b1", 1, [row(2), row(3)])
    await tracker.apply([item(2), item(3), item(4)])
    assert [r.index for r in await batches.rows("acme", "b1")] == [0, 1, 2, 3, 4]
    assert (await batches.progress("acme", "b1")).done == 5
