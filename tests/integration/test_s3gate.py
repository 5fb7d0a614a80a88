"""Conditional writes on the session's S3 endpoint: on the embedded stack, the gate in
front of real rclone; on MinIO (testcontainers), MinIO itself."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from schemas.options import RemovalOptions
from schemas.refs import S3Object
from streams.config.settings import Settings
from streams.messaging.submit import image_request
from streams.storage.jobs import JobStore, accepted
from streams.storage.s3 import S3ObjectStore

pytestmark = pytest.mark.integration

INPUT = S3Object(bucket="cutstream-inputs", key="gate-acct/in.jpg")


@pytest.fixture
def gate(stack_settings: Settings) -> S3ObjectStore:
    """A client of the session's S3 endpoint."""
    return S3ObjectStore(stack_settings)


async def put(store: S3ObjectStore, key: str, body: bytes, **headers: str) -> httpx.Response:
    url = store.client.presigned_put_object("cutstream-inputs", key, expires=timedelta(minutes=5))
    async with httpx.AsyncClient() as client:
        return await client.put(url, content=body, headers=headers)


async def test_create_only_put(gate: S3ObjectStore) -> None:
    key = "gate/create-only.txt"
    assert (await put(gate, key, b"first", **{"If-None-Match": "*"})).status_code == 200
    refused = await put(gate, key, b"second", **{"If-None-Match": "*"})
    assert refused.status_code == 412
    assert b"PreconditionFailed" in refused.content
    assert gate.get("cutstream-inputs", key) == b"first"


async def test_compare_and_swap_put(gate: S3ObjectStore) -> None:
    key = "gate/cas.txt"
    created = await put(gate, key, b"v1")
    assert created.status_code == 200
    etag = created.headers["ETag"]
    assert gate.etag("cutstream-inputs", key) == etag.strip('"')
    assert (await put(gate, key, b"lost", **{"If-Match": '"0000"'})).status_code == 412
    swapped = await put(gate, key, b"v2", **{"If-Match": etag})
    assert swapped.status_code == 200
    assert (await put(gate, key, b"stale", **{"If-Match": etag})).status_code == 412
    assert gate.get("cutstream-inputs", key) == b"v2"


async def test_if_match_on_a_missing_object_is_404(gate: S3ObjectStore) -> None:
    assert (await put(gate, "gate/absent.txt", b"x", **{"If-Match": '"abc"'})).status_code == 404


async def test_everything_else_passes_through(gate: S3ObjectStore) -> None:
    gate.put("cutstream-inputs", "gate/plain.bin", b"\x00\x01payload", "application/octet-stream")
    assert gate.get("cutstream-inputs", "gate/plain.bin") == b"\x00\x01payload"
    assert "gate/plain.bin" in gate.list_keys("cutstream-inputs", "gate/")
    assert gate.etag("cutstream-inputs", "gate/nothing-here") is None


async def test_the_store_api_creates_once_and_swaps_by_version(gate: S3ObjectStore) -> None:
    bucket, key = "cutstream-jobs", "gate/record.json"
    gate.delete(bucket, key)
    attempts = await asyncio.gather(
        *(
            asyncio.to_thread(gate.put_if_absent, bucket, key, b"%d" % i, "text/plain")
            for i in range(8)
        )
    )
    assert attempts.count(True) == 1  # of eight concurrent creates, exactly one wins
    data, etag = gate.get_with_etag(bucket, key)
    assert data == b"%d" % attempts.index(True)
    assert gate.put_if_match(bucket, key, b"next", "text/plain", etag)
    assert not gate.put_if_match(bucket, key, b"stale", "text/plain", etag)
    assert gate.get(bucket, key) == b"next"
    gate.delete(bucket, key)
    assert not gate.exists(bucket, key)
    assert not gate.put_if_match(bucket, key, b"x", "text/plain", etag)


async def test_head_answers_tell_the_objects_size(gate: S3ObjectStore) -> None:
    gate.put("cutstream-inputs", "gate/sized.bin", b"x" * 1234, "application/octet-stream")
    url = gate.client.get_presigned_url(
        "HEAD", "cutstream-inputs", "gate/sized.bin", expires=timedelta(minutes=5)
    )
    async with httpx.AsyncClient() as client:
        answer = await client.head(url)
    assert answer.status_code == 200
    assert answer.headers["content-length"] == "1234"


async def test_reads_beside_writes_of_one_key_get_whole_objects(
    stack_settings: Settings,
) -> None:
    """rclone writes in place: without the gate's per-key turns, reads beside writes of one
    key came back torn or with a stale length (measured: 80 torn in 5,801). Without
    client retries, so a torn answer shows here instead of being retried away."""
    store = S3ObjectStore(stack_settings, retries=0)
    key = "gate/busy.bin"
    bodies = [bytes([i]) * (100_000 + 1_000 * i) for i in range(4)]
    store.put("cutstream-inputs", key, bodies[0], "application/octet-stream")

    def write() -> None:
        for index in range(60):
            store.put("cutstream-inputs", key, bodies[index % 4], "application/octet-stream")

    def read() -> list[bytes]:
        return [store.get("cutstream-inputs", key) for _ in range(60)]

    writing = asyncio.create_task(asyncio.to_thread(write))
    reads = await asyncio.gather(asyncio.to_thread(read), asyncio.to_thread(read))
    await writing
    assert all(body in bodies for answers in reads for body in answers)


async def test_a_withdrawn_job_record_frees_its_id_without_a_delete(
    stack_settings: Settings,
) -> None:
    """A claim is withdrawn by overwriting it (rclone logs an ERROR for a DELETE beside
    other records); the id reads as free, and of concurrent new claims one wins."""
    store = S3ObjectStore(stack_settings)
    jobs = JobStore(store, stack_settings.s3.jobs_bucket)
    first = accepted(image_request("gate-acct", "w-1", INPUT, RemovalOptions()))
    assert await jobs.create(first) == (True, None)
    await jobs.withdraw("gate-acct", "w-1")
    assert await jobs.get("gate-acct", "w-1") is None
    second = accepted(image_request("gate-acct", "w-1", INPUT, RemovalOptions(format="webp")))
    outcomes = await asyncio.gather(*(jobs.create(second) for _ in range(4)))
    assert [created for created, _ in outcomes].count(True) == 1
    assert all(found is None or found.request == second.request for _, found in outcomes)
    found = await jobs.get("gate-acct", "w-1")
    assert found is not None
    assert found.request == second.request
