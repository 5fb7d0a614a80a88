"""Claiming a request id: the first request under it wins, the same work finds its job."""

from __future__ import annotations

import asyncio

import pytest

from schemas.events import ImageRequested
from schemas.options import OutputFormat, RemovalOptions
from schemas.refs import S3Object
from streams.config.settings import Settings
from streams.exceptions import RequestIdTakenError
from streams.messaging.submit import Submitter, image_request
from streams.storage.memory import MemoryObjectStore

SETTINGS = Settings()


def submitter() -> Submitter:
    store = MemoryObjectStore()
    for bucket in SETTINGS.s3.buckets():
        store.ensure_bucket(bucket)
    return Submitter(SETTINGS, store, "test")


def request(fmt: OutputFormat = OutputFormat.PNG, webhook: str | None = None) -> ImageRequested:
    source = S3Object(bucket="cutstream-inputs", key="uploads/acme/r-1/cup.jpg")
    return image_request("acme", "r-1", source, RemovalOptions(format=fmt), webhook_url=webhook)


async def test_the_first_claim_wins_and_the_same_work_finds_its_job() -> None:
    submit = submitter()
    first, created = await submit.claim(request())
    assert created
    again, created = await submit.claim(request(webhook="https://hooks.example/x"))
    assert (again, created) == (first, False)  # where results are announced does not count
    with pytest.raises(RequestIdTakenError, match="r-1"):
        await submit.claim(request(OutputFormat.WEBP))


async def test_concurrent_claims_create_one_job() -> None:
    submit = submitter()
    outcomes = await asyncio.gather(*(submit.claim(request()) for _ in range(12)))
    assert [created for _, created in outcomes].count(True) == 1


async def test_a_withdrawn_claim_frees_the_id() -> None:
    submit = submitter()
    await submit.claim(request())
    await submit.withdraw(request())
    assert await submit.jobs.get("acme", "r-1") is None
    outcomes = await asyncio.gather(*(submit.claim(request(OutputFormat.WEBP)) for _ in range(6)))
    assert [created for _, created in outcomes].count(True) == 1
    assert {record.request.options.format for record, _ in outcomes if record.request} == {
        OutputFormat.WEBP
    }
