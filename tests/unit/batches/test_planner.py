"""The planner on the in-memory store: sources read once, items trickled in behind the
account's outcomes, cancel at once, bounded retries of a source that does not answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from schemas.batches import BatchItemDone, BatchPlanned, BatchRecord, BatchSpec, BatchState
from streams.batches.admission import Admission
from streams.batches.planner import Planner
from streams.config.settings import Settings
from streams.net.fetch import Fetcher, FetchLimits
from streams.net.urlguard import UrlPolicy
from streams.stack.servers import free_port
from streams.storage.accounts import AccountViews
from streams.storage.batches import BatchStore, Progress
from streams.storage.jobs import JobStore
from streams.storage.memory import MemoryObjectStore


class Sent:
    """What the planner handed to Kafka, by topic."""

    def __init__(self) -> None:
        self.by_topic: dict[str, list[dict[str, Any]]] = {}

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.by_topic.setdefault(topic, []).append(json.loads(value))

    async def flush(self) -> None:
        return None


def planner(**batches: Any) -> tuple[Planner, BatchStore, MemoryObjectStore, Sent, Settings]:
    settings = Settings(
        metering={"enabled": False},
        batches={"checkpoint_every": 4, "outstanding_poll_s": 0.01, **batches},
        urls={"allow_http": True, "allow_loopback": True},
    )
    store = MemoryObjectStore()
    for bucket in (settings.s3.jobs_bucket, settings.s3.input_bucket, settings.s3.output_bucket):
        store.ensure_bucket(bucket)
    records = BatchStore(store, settings.s3.jobs_bucket, settings.s3.output_bucket)
    sent = Sent()
    admission = Admission(
        settings,
        AccountViews(store, settings.s3.jobs_bucket),
        JobStore(store, settings.s3.jobs_bucket),
    )
    fetcher = Fetcher(UrlPolicy(allow_http=True, allow_loopback=True), FetchLimits(timeout_s=2))
    plan = Planner(settings, store, records, fetcher, admission, sent.send, sent.flush)
    return plan, records, store, sent, settings


async def submitted(records: BatchStore, source: dict[str, Any], batch_id: str = "b1") -> None:
    spec = BatchSpec.model_validate({"batch_id": batch_id, "account": "acme", "source": source})
    await records.create(BatchRecord(spec=spec))


def manifest(store: MemoryObjectStore, settings: Settings, text: str) -> dict[str, Any]:
    store.put(settings.s3.input_bucket, "uploads/acme/m.csv", text.encode(), "text/csv")
    return {
        "kind": "manifest",
        "manifest": {"bucket": settings.s3.input_bucket, "key": "uploads/acme/m.csv"},
    }


def rows(count: int) -> str:
    return "id,key\n" + "".join(f"i{n},uploads/acme/{n}.jpg\n" for n in range(count))


async def test_a_batch_is_read_once_queued_in_chunks_and_closed() -> None:
    plan, records, store, sent, settings = planner()
    await submitted(records, manifest(store, settings, rows(10)))
    await plan.plan("acme", "b1")
    requests = sent.by_topic[settings.topics.bulk_requests]
    assert [r["request_id"] for r in requests] == [f"b1.{n}" for n in range(10)]
    [planned] = sent.by_topic[settings.topics.batch_progress]
    assert BatchPlanned.model_validate(planned).total == 10
    record = await records.get("acme", "b1")
    assert record is not None
    assert (record.state, record.total, record.queued) == (BatchState.RUNNING, 10, 10)
    chunks = store.list_keys(settings.s3.jobs_bucket, "_batches/acme/b1/items/")
    assert len(chunks) == 3  # 4 items a chunk


async def test_an_account_has_at_most_so_many_items_without_an_outcome() -> None:
    plan, records, store, sent, settings = planner(max_outstanding_per_account=3)
    await submitted(records, manifest(store, settings, rows(10)))
    task = asyncio.create_task(plan.plan("acme", "b1"))
    await asyncio.sleep(0.2)
    queued = sent.by_topic[settings.topics.bulk_requests]
    assert len(queued) == 3  # then it waits for outcomes
    await records.put_progress("acme", "b1", Progress(succeeded=3))
    await asyncio.sleep(0.2)
    assert len(sent.by_topic[settings.topics.bulk_requests]) == 6
    await records.put_progress("acme", "b1", Progress(succeeded=10))
    await asyncio.wait_for(task, 5)
    assert len(sent.by_topic[settings.topics.bulk_requests]) == 10


async def test_cancel_stops_planning_at_once_and_counts_what_was_never_queued() -> None:
    plan, records, store, sent, settings = planner(max_outstanding_per_account=3)
    await submitted(records, manifest(store, settings, rows(10)))
    task = asyncio.create_task(plan.plan("acme", "b1"))
    await asyncio.sleep(0.2)
    await records.update(
        "acme", "b1", lambda r: r.model_copy(update={"state": BatchState.CANCELED})
    )
    await asyncio.wait_for(task, 5)
    assert len(sent.by_topic[settings.topics.bulk_requests]) == 3
    planned = BatchPlanned.model_validate(sent.by_topic[settings.topics.batch_progress][-1])
    assert planned.total == 3  # the tracker waits for the queued ones only
    record = await records.get("acme", "b1")
    assert record is not None
    assert (record.total, record.queued, record.unqueued) == (10, 3, 7)
    rows_kept = await records.final_rows(record)
    assert [row.status for row in rows_kept] == ["canceled"] * 7  # the 3 queued have none yet
    assert rows_kept[0].index == 3


async def test_a_source_that_does_not_answer_is_tried_a_few_times_then_fails_the_batch() -> None:
    plan, records, _, sent, settings = planner(source_retry_delays_s=[0.01, 0.01])
    url = f"http://127.0.0.1:{free_port()}/m.csv"  # nothing listens there
    await submitted(records, {"kind": "manifest", "manifest": {"url": url}})
    await asyncio.wait_for(plan.plan("acme", "b1"), 30)
    record = await records.get("acme", "b1")
    assert record is not None
    assert record.state is BatchState.FAILED
    assert record.source_attempts == 2
    assert record.source_error is not None
    assert record.source_error.code == "input_fetch_failed"
    progress = sent.by_topic[settings.topics.batch_progress]
    assert BatchPlanned.model_validate(progress[-1]).total == 0


async def test_a_broken_manifest_fails_the_batch_at_once_and_bad_rows_are_rows() -> None:
    plan, records, store, sent, settings = planner()
    await submitted(records, manifest(store, settings, 'id,key\n"never closed\n' + "x,y\n" * 99))
    await plan.plan("acme", "b1")
    record = await records.get("acme", "b1")
    assert record is not None
    assert (record.state, record.source_attempts) == (BatchState.FAILED, 0)
    assert record.source_error is not None
    assert record.source_error.code == "manifest_invalid"

    await submitted(records, manifest(store, settings, "id,key\na,../up\n"), batch_id="b2")
    await plan.plan("acme", "b2")
    done = [
        BatchItemDone.model_validate(event)
        for event in sent.by_topic[settings.topics.batch_progress]
        if event["type"] == "batch.item"
    ]
    assert [(d.row.index, d.row.error_code) for d in done] == [(0, "invalid_request")]


async def test_one_account_cannot_keep_another_waiting_for_a_place() -> None:
    plan, records, store, _sent, settings = planner(
        plan_at_once=1, max_outstanding_per_account=4, checkpoint_every=4
    )
    await submitted(records, manifest(store, settings, rows(400)), batch_id="big")
    spec = {"kind": "prefix", "bucket": settings.s3.input_bucket, "prefix": "uploads/other/"}
    store.put(settings.s3.input_bucket, "uploads/other/one.jpg", b"x", "image/jpeg")
    big = asyncio.create_task(plan.plan("acme", "big"))
    await asyncio.sleep(0.1)
    other = BatchSpec.model_validate({"batch_id": "small", "account": "other", "source": spec})
    await records.create(BatchRecord(spec=other))
    await asyncio.wait_for(plan.plan("other", "small"), 5)  # while big waits for outcomes
    assert not big.done()
    big.cancel()
    await asyncio.gather(big, return_exceptions=True)
