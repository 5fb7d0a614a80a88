"""Conditional writes and whole reads on the session's S3 endpoint: on the embedded stack,
its own S3 server; on MinIO (testcontainers), MinIO itself."""

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

INPUT = S3Object(bucket="cutstream-inputs", key="s3-acct/in.jpg")


@pytest.fixture
def s3(stack_settings: Settings) -> S3ObjectStore:
    """A client of the session's S3 endpoint."""
    return S3ObjectStore(stack_settings)


async def put(store: S3ObjectStore, key: str, body: bytes, **headers: str) -> httpx.Response:
    url = store.client.presigned_put_object("cutstream-inputs", key, expires=timedelta(minutes=5))
    async with httpx.AsyncClient() as client:
        return await client.put(url, content=body, headers=headers)


async def test_create_only_put(s3: S3ObjectStore) -> None:
    key = "s3/create-only.txt"
    assert (await put(s3, key, b"first", **{"If-None-Match": "*"})).status_code == 200
    refused = await put(s3, key, b"second", **{"If-None-Match": "*"})
    assert refused.status_code == 412
    assert b"PreconditionFailed" in refused.content
    assert s3.get("cutstream-inputs", key) == b"first"


async def test_compare_and_swap_put(s3: S3ObjectStore) -> None:
    key = "s3/cas.txt"
    created = await put(s3, key, b"v1")
    assert created.status_code == 200
    etag = created.headers["ETag"]
    assert s3.etag("cutstream-inputs", key) == etag.strip('"')
    assert (await put(s3, key, b"lost", **{"If-Match": '"0000"'})).status_code == 412
    swapped = await put(s3, key, b"v2", **{"If-Match": etag})
    assert swapped.status_code == 200
    assert (await put(s3, key, b"stale", **{"If-Match": etag})).status_code == 412
    assert s3.get("cutstream-inputs", key) == b"v2"


async def test_if_match_on_a_missing_object_is_404(s3: S3ObjectStore) -> None:
    assert (await put(s3, "s3/absent.txt", b"x", **{"If-Match": '"abc"'})).status_code == 404


async def test_everything_else_passes_through(s3: S3ObjectStore) -> None:
    s3.put("cutstream-inputs", "s3/plain.bin", b"\x00\x01payload", "application/octet-stream")
    assert s3.get("cutstream-inputs", "s3/plain.bin") == b"\x00\x01payload"
    assert "s3/plain.bin" in s3.list_keys("cutstream-inputs", "s3/")
    assert s3.etag("cutstream-inputs", "s3/nothing-here") is None


async def test_the_store_api_creates_once_and_swaps_by_version(s3: S3ObjectStore) -> None:
    bucket, key = "cutstream-jobs", "s3/record.json"
    s3.delete(bucket, key)
    attempts = await asyncio.gather(
        *(
            asyncio.to_thread(s3.put_if_absent, bucket, key, b"%d" % i, "text/plain")
            for i in range(8)
        )
    )
    assert attempts.count(True) == 1  # of eight concurrent creates, exactly one wins
    data, etag = s3.get_with_etag(bucket, key)
    assert data == b"%d" % attempts.index(True)
    assert s3.put_if_match(bucket, key, b"next", "text/plain", etag)
    assert not s3.put_if_match(bucket, key, b"stale", "text/plain", etag)
    assert s3.get(bucket, key) == b"next"
    s3.delete(bucket, key)
    assert not s3.exists(bucket, key)
    assert not s3.put_if_match(bucket, key, b"x", "text/plain", etag)


async def test_head_answers_tell_the_objects_size(s3: S3ObjectStore) -> None:
    s3.put("cutstream-inputs", "s3/sized.bin", b"x" * 1234, "application/octet-stream")
    url = s3.client.get_presigned_url(
        "HEAD", "cutstream-inputs", "s3/sized.bin", expires=timedelta(minutes=5)
    )
    async with httpx.AsyncClient() as client:
        answer = await client.head(url)
    assert answer.status_code == 200
    assert answer.headers["content-length"] == "1234"


async def test_reads_beside_writes_of_one_key_get_whole_objects(
    stack_settings: Settings,
) -> None:
    """Reads beside writes of one key get one version or the other, whole (rclone, which
    wrote in place, tore 80 in 5,801). Without client retries, so a torn answer shows
    here instead of being retried away."""
    store = S3ObjectStore(stack_settings, retries=0)
    key = "s3/busy.bin"
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


async def test_a_withdrawn_job_record_frees_its_id(
    stack_settings: Settings,
) -> None:
    """A withdrawn claim reads as free, and of concurrent new claims one wins."""
    store = S3ObjectStore(stack_settings)
    jobs = JobStore(store, stack_settings.s3.jobs_bucket)
    first = accepted(image_request("s3-acct", "w-1", INPUT, RemovalOptions()))
    assert await jobs.create(first) == (True, None)
    await jobs.withdraw("s3-acct", "w-1")
    assert await jobs.get("s3-acct", "w-1") is None
    second = accepted(image_request("s3-acct", "w-1", INPUT, RemovalOptions(format="webp")))
    outcomes = await asyncio.gather(*(jobs.create(second) for _ in range(4)))
    assert [created for created, _ in outcomes].count(True) == 1
    assert all(found is None or found.request == second.request for _, found in outcomes)
    found = await jobs.get("s3-acct", "w-1")
    assert found is not None
    assert found.request == second.request
