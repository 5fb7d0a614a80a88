"""The processor's routing of one message, on the in-memory store and the real model."""

from __future__ import annotations

import asyncio
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from processors import Remover
from schemas.errors import ErrorCode
from schemas.jobs import JobStatus
from streams.exceptions import StorageUnavailableError
from streams.storage.batches import BatchStore
from streams.storage.jobs import JobStore
from streams.storage.memory import MemoryObjectStore
from streams.worker.handling import Delivery, Inbound
from tests.httpserver import serve
from tests.images import alpha_of, photo, photo_jpeg
from tests.unit.worker.support import make_processor, make_store, message


class FlakyStore(MemoryObjectStore):
    """The in-memory store, failing the first ``failures`` reads of ``bucket``."""

    def __init__(self, bucket: str, failures: int) -> None:
        super().__init__()
        self.flaky_bucket = bucket
        self.failures = failures

    def get(self, bucket: str, key: str) -> bytes:
        if bucket == self.flaky_bucket and self.failures > 0:
            self.failures -= 1
            raise StorageUnavailableError("the store is down")
        return super().get(bucket, key)


async def test_success_stores_output_record_and_event(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    delivery = await make_processor(store, remover, executor).handle(message())

    event = delivery.completed
    assert event is not None
    assert (delivery.failed, delivery.retry, delivery.dead_letter) == (None, None, None)
    assert (event.request_id, event.account, event.trace_id) == ("req-1", "acme", "t")
    output = event.payload.output
    assert (output.bucket, output.key) == ("outputs", "acme/req-1.png")
    assert (output.width, output.height) == photo("chelsea").size
    assert output.foreground is not None
    assert event.payload.attempts == 1
    assert alpha_of(store.get("outputs", "acme/req-1.png")).shape == (300, 451)
    record = await JobStore(store, "jobs").get("acme", "req-1")
    assert record is not None
    assert record.status is JobStatus.SUCCEEDED
    assert record.output == output
    assert record.result_event_id == event.event_id


async def test_redelivery_of_a_finished_request_republishes_without_recomputing(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    processor = make_processor(store, remover, executor)
    first = await processor.handle(message())
    store.put("outputs", "acme/req-1.png", b"sentinel", "image/png")  # would be overwritten
    store.put("inputs", "cat.jpg", b"now corrupt", "image/jpeg")  # would now fail
    second = await processor.handle(message())
    assert second.completed == first.completed  # same event id, same payload
    assert store.get("outputs", "acme/req-1.png") == b"sentinel"


async def test_permanent_errors_fail_at_once(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "bad.jpg", b"\xff\xd8\xff garbage", "image/jpeg")
    processor = make_processor(store, remover, executor)
    bad = await processor.handle(message({"input": {"bucket": "inputs", "key": "bad.jpg"}}))
    assert bad.failed is not None
    assert bad.failed.payload.error.code is ErrorCode.INVALID_IMAGE_FORMAT
    assert (bad.retry, bad.dead_letter) == (None, None)
    assert not store.exists("outputs", "acme/req-1.png")
    record = await JobStore(store, "jobs").get("acme", "req-1")
    assert record is not None
    assert record.status is JobStatus.FAILED

    missing = await processor.handle(
        message({"input": {"bucket": "inputs", "key": "nope.jpg"}}, request_id="req-2")
    )
    assert missing.failed is not None
    assert missing.failed.payload.error.code is ErrorCode.INPUT_NOT_FOUND


async def test_transient_errors_go_to_retry_tiers_then_fail_and_dead_letter(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store(FlakyStore("inputs", failures=10))
    processor = make_processor(store, remover, executor)  # 2 delays: 3 attempts

    first = await processor.handle(message(attempt=0))
    assert first.retry is not None
    assert (first.retry.attempt, first.retry.tier, first.retry.delay_s) == (1, 1, 0.5)
    assert first.failed is None
    second = await processor.handle(message(attempt=1))
    assert second.retry is not None
    assert (second.retry.tier, second.retry.delay_s) == (2, 1.0)
    last = await processor.handle(message(attempt=2))
    assert last.retry is None
    assert last.failed is not None
    assert last.failed.payload.error.code is ErrorCode.STORAGE_UNAVAILABLE
    assert last.failed.payload.error.retryable
    assert last.dead_letter is not None
    assert last.dead_letter.reason == "retries_exhausted"
    assert last.dead_letter.attempts == 3
    record = await JobStore(store, "jobs").get("acme", "req-1")
    assert record is not None
    assert record.status is JobStatus.FAILED


async def test_a_retry_that_succeeds(remover: Remover, executor: ThreadPoolExecutor) -> None:
    store = make_store(FlakyStore("inputs", failures=1))
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    processor = make_processor(store, remover, executor)
    assert (await processor.handle(message())).retry is not None
    done = await processor.handle(message(attempt=1))
    assert done.completed is not None
    assert done.completed.payload.attempts == 2


async def test_schema_violation_with_an_id_is_dead_lettered_and_failed(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    raw = json.dumps(
        {
            "request_id": "req-x",
            "account": "acme",
            "trace_id": "trace-7",
            "payload": {"input": {"bucket": "inputs"}},
        }
    )
    store = make_store()
    processor = make_processor(store, remover, executor)
    delivery = await processor.handle(
        Inbound(raw.encode(), "requests", 0, 7, key=b"req-x", headers={"origin": b"kcat"})
    )
    letter = delivery.dead_letter
    assert letter is not None
    assert letter.reason == "invalid_request"
    assert "payload.input" in letter.error.message
    assert (letter.source_offset, letter.source_key, letter.trace_id) == (7, "req-x", "trace-7")
    assert letter.source_headers == {"origin": "kcat"}
    assert delivery.failed is not None
    failed = delivery.failed
    assert (failed.request_id, failed.account, failed.trace_id) == ("req-x", "acme", "trace-7")
    record = await JobStore(store, "jobs").get("acme", "req-x")
    assert record is not None
    assert (record.status, record.request, record.error) == (
        JobStatus.FAILED,
        None,
        failed.payload.error,
    )
    assert record.result_event_id == failed.event_id

    # The id is taken now: a second invalid record under it only becomes a dead letter.
    again = await processor.handle(Inbound(raw.encode(), "requests", 0, 8))
    assert (again.failed, again.dead_letter is not None) == (None, True)


async def test_a_newer_schema_major_is_dead_lettered_not_read_as_this_one(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    future = message(schema_version=1).value.replace(b'"schema_version":1', b'"schema_version":2')
    delivery = await make_processor(store, remover, executor).handle(
        Inbound(future, "requests", 0, 3)
    )
    assert delivery.completed is None
    assert delivery.dead_letter is not None
    assert delivery.dead_letter.reason == "unsupported_version"
    assert delivery.failed is not None
    assert "schema_version 2" in delivery.failed.payload.error.message
    assert not store.exists("outputs", "acme/req-1.png")


async def test_a_record_larger_than_the_producer_limit_becomes_a_small_dead_letter(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    huge = b'{"request_id": "req-big", "trace_id": "' + b"x" * 1_500_000 + b'"}'
    delivery = await make_processor(make_store(), remover, executor).handle(
        Inbound(huge, "requests", 0, 1)
    )
    letter = delivery.dead_letter
    assert letter is not None
    assert len(letter.model_dump_json()) < 1_048_576 // 4
    assert letter.original_truncated
    assert letter.original_size_bytes == len(huge)
    assert letter.original_sha256 == hashlib.sha256(huge).hexdigest()
    assert huge.decode().startswith(letter.original)
    assert letter.trace_id is None  # a 1.5 MB trace id is not one


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'{"request_id": "../bad"}', b"\xff\xfe binary"]
)
async def test_unparseable_messages_are_dead_lettered(
    remover: Remover, executor: ThreadPoolExecutor, raw: bytes
) -> None:
    delivery = await make_processor(make_store(), remover, executor).handle(
        Inbound(raw, "requests", 1, 9)
    )
    assert delivery.failed is None
    assert delivery.dead_letter is not None
    assert delivery.dead_letter.reason == "unparseable"
    encoding = delivery.dead_letter.original_encoding
    assert encoding == ("base64" if raw.startswith(b"\xff") else "utf-8")


async def test_url_inputs_are_fetched_through_the_guard(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    image = photo_jpeg("coffee")
    with serve({"/cup.jpg": lambda h: h.reply(200, image)}) as server:
        url_input = {"input": {"kind": "url", "url": f"{server.url}/cup.jpg"}}
        store = make_store()
        allowed = make_processor(store, remover, executor, allow_http=True, allow_loopback=True)
        done = await allowed.handle(message(url_input))
        assert done.completed is not None
        assert done.completed.payload.output.width == 600
        refused = await make_processor(store, remover, executor, allow_http=True).handle(
            message(url_input, request_id="req-2")
        )
        assert refused.failed is not None
        assert refused.failed.payload.error.code is ErrorCode.URL_NOT_ALLOWED
        assert len(server.requests) == 1  # the refused fetch never reached the server


async def test_references_outside_the_accounts_prefixes_fail_as_not_found(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    cat = photo_jpeg("chelsea")
    store.put("uploads-bucket", "uploads/other/r-9/cat.jpg", cat, "image/jpeg")
    store.put("outputs", "other/r-9.png", cat, "image/png")
    store.put("jobs", "_keys/0123456789abcdef.json", b"{}", "application/json")
    store.put("uploads-bucket", "uploads/acme/r-1/cat.jpg", cat, "image/jpeg")
    processor = make_processor(store, remover, executor)

    def ref(bucket: str, key: str, request_id: str) -> Inbound:
        return message({"input": {"bucket": bucket, "key": key}}, request_id=request_id)

    failures = {}
    for number, (bucket, key) in enumerate(
        [
            ("uploads-bucket", "uploads/other/r-9/cat.jpg"),  # another account's upload
            ("outputs", "other/r-9.png"),  # another account's output
            ("jobs", "_keys/0123456789abcdef.json"),  # exists, never readable
            ("jobs", "_keys/fedcba9876543210.json"),  # missing
            ("elsewhere", "cat.jpg"),  # a bucket that does not exist
        ]
    ):
        delivery = await processor.handle(ref(bucket, key, f"probe-{number}"))
        assert delivery.failed is not None, (bucket, key)
        error = delivery.failed.payload.error
        failures[(bucket, key)] = (error.code, error.message.replace(f"s3://{bucket}/{key}", "X"))
    assert set(failures.values()) == {(ErrorCode.INPUT_NOT_FOUND, "X does not exist")}

    own = await processor.handle(ref("uploads-bucket", "uploads/acme/r-1/cat.jpg", "own-1"))
    granted = await processor.handle(ref("outputs", "acme/req-1.png", "own-2"))
    assert own.completed is not None
    assert granted.failed is not None  # its own output prefix, but nothing there yet
    assert granted.failed.payload.error.code is ErrorCode.INPUT_NOT_FOUND


class CountingStore(MemoryObjectStore):
    """The in-memory store, counting the outputs written."""

    def __init__(self) -> None:
        super().__init__()
        self.outputs_written = 0

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.outputs_written += bucket == "outputs"
        super().put(bucket, key, data, content_type)


async def test_copies_of_one_request_are_computed_once_and_answered_identically(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = CountingStore()
    make_store(store)
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    processor = make_processor(store, remover, executor)
    copies = await asyncio.gather(*(processor.handle(message()) for _ in range(3)))
    assert store.outputs_written == 1
    events = {delivery.completed.model_dump_json() for delivery in copies if delivery.completed}
    assert len(events) == 1  # byte-identical completions, one event id


async def test_a_different_request_under_a_taken_id_is_dead_lettered_and_changes_nothing(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    processor = make_processor(store, remover, executor)
    first = await processor.handle(message())
    jobs_store = JobStore(store, "jobs")
    before = await jobs_store.get("acme", "req-1")
    webp = {"input": {"bucket": "inputs", "key": "cat.jpg"}, "options": {"format": "webp"}}
    second = await processor.handle(message(webp))
    assert first.completed is not None
    assert (second.completed, second.failed, second.retry) == (None, None, None)
    assert second.dead_letter is not None
    assert second.dead_letter.reason == "conflicting_duplicate"
    assert second.dead_letter.error.code is ErrorCode.CONFLICT
    assert await jobs_store.get("acme", "req-1") == before
    assert store.list_keys("outputs", "acme/") == ["acme/req-1.png"]


async def deliver_to(
    remover: Remover, executor: ThreadPoolExecutor, bucket: str, key: str
) -> tuple[MemoryObjectStore, Delivery]:
    """Handle account acme's request for cat.jpg with its output at ``s3://bucket/key``."""
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    payload = {
        "input": {"bucket": "inputs", "key": "cat.jpg"},
        "output": {"bucket": bucket, "key": key},
    }
    return store, await make_processor(store, remover, executor).handle(message(payload))


async def test_an_output_destination_is_written_where_the_account_may(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store, delivery = await deliver_to(remover, executor, "catalog", "acme/sku-1/front.png")
    assert delivery.completed is not None
    output = delivery.completed.payload.output
    assert (output.bucket, output.key) == ("catalog", "acme/sku-1/front.png")
    assert store.get("catalog", "acme/sku-1/front.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert not store.exists("outputs", "acme/req-1.png")


async def test_an_output_destination_outside_the_grants_fails_with_a_code(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store, delivery = await deliver_to(remover, executor, "outputs", "other-account/x.png")
    assert delivery.failed is not None
    assert delivery.failed.payload.error.code == "output_not_allowed"
    assert store.list_keys("outputs") == []


def _batch_item(index: int) -> dict[str, Any]:
    return {
        "input": {"bucket": "inputs", "key": "cat.jpg"},
        "batch": {"batch_id": "b1", "index": index, "item_id": f"sku-{index}"},
    }


async def test_a_batch_item_reports_its_row_for_the_tracker(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    processor = make_processor(store, remover, executor)
    delivery = await processor.handle(message(_batch_item(7), request_id="b1.7"))
    item = delivery.batch_item
    assert item is not None
    assert delivery.completed is not None
    assert (item.batch_id, item.account) == ("b1", "acme")
    row = item.row
    assert (row.index, row.item_id, row.status, row.request_id) == (7, "sku-7", "succeeded", "b1.7")
    assert row.input == "s3://inputs/cat.jpg"
    assert row.output_key == delivery.completed.payload.output.key
    assert row.bytes == delivery.completed.payload.output.size_bytes

    # A redelivery republishes the same row (the tracker counts each index once).
    again = await processor.handle(message(_batch_item(7), request_id="b1.7"))
    assert again.batch_item == item


async def test_items_of_a_canceled_batch_end_canceled_without_running(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    from schemas.batches import BatchRecord, BatchSpec, BatchState

    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    spec = BatchSpec.model_validate(
        {"batch_id": "b1", "account": "acme", "source": {"kind": "prefix", "bucket": "inputs"}}
    )
    await BatchStore(store, "jobs", "outputs").create(
        BatchRecord(spec=spec, state=BatchState.CANCELED)
    )
    delivery = await make_processor(store, remover, executor).handle(
        message(_batch_item(0), request_id="b1.0")
    )
    assert delivery.failed is not None
    assert delivery.batch_item is not None
    assert delivery.failed.payload.error.code == "canceled"
    assert delivery.batch_item.row.status == "canceled"
    assert store.list_keys("outputs") == []


async def test_json_nested_past_any_parser_is_unparseable_not_a_handler_error(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    raw = b'{"request_id": "r1", "payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    delivery = await make_processor(make_store(), remover, executor).handle(
        Inbound(raw, "requests", 1, 9)
    )
    assert delivery.dead_letter is not None
    assert delivery.dead_letter.reason == "unparseable"


@pytest.mark.parametrize(
    "outputs",
    [
        [{"format": "png", "bucket": "outputs", "key": "other-account/x.png"}],  # not allowed
        [{"key": "catalog/{stem}.png"}, {"key": "catalog/cat.png"}],  # resolve to one key
    ],
)
async def test_a_failure_before_anything_ran_refunds_what_the_ledger_holds(
    remover: Remover, executor: ThreadPoolExecutor, outputs: list[dict[str, Any]]
) -> None:
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    jobs_store = JobStore(store, "jobs")
    gateway_copy = message({"input": {"bucket": "inputs", "key": "cat.jpg"}, "outputs": outputs})
    from schemas.events import ImageRequested
    from streams.storage import jobs

    # The gateway records the request as it was asked (no credits yet); the ledger's copy,
    # the one the worker consumes, holds 3.
    asked = ImageRequested.model_validate_json(gateway_copy.value)
    await jobs_store.put(jobs.accepted(asked))
    payload = asked.payload.model_copy(update={"credits": 3})
    held = asked.model_copy(update={"payload": payload})
    consumed = Inbound(held.model_dump_json().encode(), "requests", 3, 43)
    delivery = await make_processor(store, remover, executor).handle(consumed)
    assert delivery.failed is not None
    assert delivery.failed.payload.error.code in ("output_not_allowed", "invalid_request")
    assert delivery.failed.payload.credits_refunded == 3
    record = await jobs_store.get("acme", "req-1")
    assert record is not None
    assert record.request is not None
    assert record.request.credits == 3


async def test_a_batch_item_whose_id_is_taken_ends_as_a_conflict_row(
    remover: Remover, executor: ThreadPoolExecutor
) -> None:
    store = make_store()
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    store.put("inputs", "dog.jpg", photo_jpeg("coffee"), "image/jpeg")
    processor = make_processor(store, remover, executor)
    earlier = {"input": {"bucket": "inputs", "key": "dog.jpg"}}
    assert (await processor.handle(message(earlier, request_id="b1.0"))).completed is not None
    delivery = await processor.handle(message(_batch_item(0), request_id="b1.0"))
    assert (delivery.completed, delivery.failed, delivery.dead_letter) == (None, None, None)
    assert delivery.batch_item is not None
    row = delivery.batch_item.row
    assert (row.index, row.status, row.error_code) == (0, "failed", "conflict")
