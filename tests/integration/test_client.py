"""The client pipelines use (``cutstream.Client``): submit any kind of image, wait for one
result, collect several — on the real stack with a real worker."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from schemas.errors import ErrorCode
from schemas.events import ImageCompleted, ImageFailed
from schemas.options import RemovalOptions
from schemas.refs import S3Object
from streams.client import Client
from streams.config.settings import Settings
from streams.exceptions import SubmitTimeoutError
from streams.storage import layout
from streams.storage.jobs import JobStore
from streams.storage.s3 import S3ObjectStore
from tests.httpserver import Server
from tests.images import photo_jpeg
from tests.integration.conftest import WorkerFactory


async def test_submit_by_url_bytes_and_object_then_wait_and_collect(
    settings: Settings, store: S3ObjectStore, start_worker: WorkerFactory, web: Server
) -> None:
    start_worker()
    store.put(
        settings.s3.input_bucket,
        "uploads/default/pipeline/cat.jpg",
        photo_jpeg("chelsea"),
        "image/jpeg",
    )
    async with Client(settings, store) as client:
        by_url = await client.submit(f"{web.url}/cup.jpg", RemovalOptions(format="webp"))
        by_bytes = await client.submit(photo_jpeg("astronaut"), filename="astronaut.jpg")
        by_object = await client.submit(
            S3Object(bucket=settings.s3.input_bucket, key="uploads/default/pipeline/cat.jpg"),
            request_id="cat-1",
        )
        broken = await client.submit(b"\x89PNG\r\n\x1a\n not really")

        # Waiting for the last one first: the others' results, arriving meanwhile, are kept.
        failed = await client.wait(broken.request_id, timeout=180)
        assert isinstance(failed, ImageFailed)
        assert failed.payload.error.code is ErrorCode.INVALID_IMAGE_FORMAT

        ids = [by_url.request_id, by_bytes.request_id, "cat-1"]
        results = {e.request_id: e async for e in client.results(ids, timeout=180)}
        assert set(results) == set(ids)
        webp = results[by_url.request_id]
        assert isinstance(webp, ImageCompleted)
        assert webp.payload.output.content_type == "image/webp"
        picture = Image.open(io.BytesIO(await client.output(webp)))
        assert (picture.format, picture.size) == ("WEBP", (600, 400))
        assert isinstance(results["cat-1"], ImageCompleted)
        assert by_object.payload.input == S3Object(
            bucket=settings.s3.input_bucket, key="uploads/default/pipeline/cat.jpg"
        )

    uploaded = layout.upload_key("default", by_bytes.request_id, "astronaut.jpg")
    assert store.exists(settings.s3.input_bucket, uploaded)


async def test_wait_names_what_did_not_arrive(settings: Settings, store: S3ObjectStore) -> None:
    async with Client(settings, store) as client:  # no worker runs: nothing will come back
        request = await client.submit(photo_jpeg("coffee"))
        with pytest.raises(SubmitTimeoutError, match=request.request_id):
            await client.wait(request.request_id, timeout=1)
        jobs = JobStore(store, settings.s3.jobs_bucket)
        record = await jobs.get("default", request.request_id)
        assert record is not None
        assert record.status.value == "accepted"
