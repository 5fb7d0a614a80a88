"""The processor's request handling, on the in-memory object store and the real model."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from processors import Remover
from schemas import ErrorCode, ImageCompleted, ImageFailed, ImageRequested, S3Object
from streams.objectstore import MemoryObjectStore
from streams.processor import Processor
from tests.images import alpha_of, photo, photo_jpeg


@pytest.fixture
def store() -> MemoryObjectStore:
    store = MemoryObjectStore()
    store.ensure_bucket("inputs")
    store.ensure_bucket("outputs")
    return store


@pytest.fixture
def processor(store: MemoryObjectStore, remover: Remover) -> Iterator[Processor]:
    with ThreadPoolExecutor(max_workers=1) as executor:
        yield Processor(store, remover, output_bucket="outputs", executor=executor)


def raw_request(request_id: str, key: str) -> bytes:
    event = ImageRequested(
        request_id=request_id,
        input=S3Object(bucket="inputs", key=key),
        account="acme",
        trace_id="t",
    )
    return event.model_dump_json().encode()


async def test_completed_event_and_output(processor: Processor, store: MemoryObjectStore) -> None:
    store.put("inputs", "cat.jpg", photo_jpeg("chelsea"), "image/jpeg")
    result = await processor.handle(raw_request("req-cat", "cat.jpg"))

    assert isinstance(result, ImageCompleted)
    assert result.request_id == "req-cat"
    assert (result.account, result.trace_id) == ("acme", "t")
    assert result.output == S3Object(bucket="outputs", key="req-cat.png")
    assert (result.width, result.height) == photo("chelsea").size
    assert result.processing_ms > 0
    assert alpha_of(store.get("outputs", "req-cat.png")).shape == (300, 451)


async def test_redelivery_overwrites_the_same_key(
    processor: Processor, store: MemoryObjectStore
) -> None:
    store.put("inputs", "cup.jpg", photo_jpeg("coffee"), "image/jpeg")
    first = await processor.handle(raw_request("req-cup", "cup.jpg"))
    second = await processor.handle(raw_request("req-cup", "cup.jpg"))
    assert isinstance(first, ImageCompleted)
    assert isinstance(second, ImageCompleted)
    assert first.output == second.output


async def test_undecodable_input_fails_with_its_code(
    processor: Processor, store: MemoryObjectStore
) -> None:
    store.put("inputs", "bad.jpg", b"\xff\xd8\xff garbage", "image/jpeg")
    result = await processor.handle(raw_request("req-bad", "bad.jpg"))
    assert isinstance(result, ImageFailed)
    assert result.error.code is ErrorCode.INVALID_IMAGE_FORMAT
    assert not store.exists("outputs", "req-bad.png")


async def test_missing_input_fails_with_input_not_found(processor: Processor) -> None:
    result = await processor.handle(raw_request("req-gone", "nowhere.jpg"))
    assert isinstance(result, ImageFailed)
    assert result.error.code is ErrorCode.INPUT_NOT_FOUND


async def test_schema_violation_with_an_id_is_reported(processor: Processor) -> None:
    result = await processor.handle(b'{"request_id": "req-x", "input": {"bucket": "inputs"}}')
    assert isinstance(result, ImageFailed)
    assert result.request_id == "req-x"
    assert result.error.code is ErrorCode.INVALID_REQUEST
    assert "input.key" in result.error.message


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'{"request_id": "../bad"}', b'{"no": "id"}']
)
async def test_message_without_a_usable_id_yields_nothing(processor: Processor, raw: bytes) -> None:
    assert await processor.handle(raw) is None
