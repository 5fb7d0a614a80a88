"""Renditions, destinations and background images on the real stack: a worker process,
Kafka and S3, through the SDK and the HTTP gateway."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from schemas.events import ImageCompleted, ImageFailed
from schemas.options import RemovalOptions
from schemas.renditions import Rendition
from streams.client import Client
from streams.config.settings import Settings
from streams.storage.jobs import JobStore
from streams.storage.s3 import S3ObjectStore
from tests.httpserver import serve
from tests.images import alpha_of, photo_jpeg
from tests.integration.conftest import CUP, WorkerFactory
from tests.integration.gateway_helpers import RunningGateway, bearer, image_of, poll
from tests.integration.support import free_port
from tests.integration.test_batches import finished, jsonl_source, rows_of, tiny_jpegs

pytestmark = pytest.mark.integration

FOUR = [
    Rendition.model_validate(fields)
    for fields in (
        {"format": "png"},
        {"format": "webp", "size": "medium"},
        {"format": "webp", "size": "small", "key": "{account}/catalog/{stem}/small.{ext}"},
        {"format": "jpg", "bg_color": "#ffffff", "size": "small"},
    )
]


async def _model_runs(port: int) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    line = next(row for row in text.splitlines() if row.startswith("cutstream_model_seconds_count"))
    return float(line.split()[-1])


def _png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


async def test_four_renditions_one_model_run_and_a_redelivery_adds_nothing(
    settings: Settings, store: S3ObjectStore, start_worker: WorkerFactory
) -> None:
    port = free_port()
    start_worker(
        settings.model_copy(
            update={"worker": settings.worker.model_copy(update={"web_port": port})}
        )
    )
    async with Client(settings, store) as client:
        request = await client.submit(
            photo_jpeg("astronaut"), filename="astronaut.jpg", request_id="four-1", outputs=FOUR
        )
        result = await client.wait(request.request_id, timeout=180)
        assert isinstance(result, ImageCompleted), result
        outputs = result.payload.outputs
        assert [(o.bucket, o.key) for o in outputs] == [
            (settings.s3.output_bucket, "default/four-1.png"),
            (settings.s3.output_bucket, "default/four-1.1.webp"),
            (settings.s3.output_bucket, "default/catalog/astronaut/small.webp"),
            (settings.s3.output_bucket, "default/four-1.3.jpg"),
        ]
        pictures = [image_of(await client.output(result, index)) for index in range(4)]
        assert [p.format for p in pictures] == ["PNG", "WEBP", "WEBP", "JPEG"]
        assert [max(p.size) for p in pictures] == [512, 512, 512, 512]  # a 512 px photo
        assert pictures[3].mode == "RGB"
        assert (alpha_of(await client.output(result, 2)) == 0).mean() > 0.05
        assert await _model_runs(port) == 1

        # The same request again, as if its first run had crashed before the record.
        await JobStore(store, settings.s3.jobs_bucket).withdraw("default", "four-1")
        before = sorted(store.list_keys(settings.s3.output_bucket, "default/"))
        await client._submitter.publish([request])
        again = await client.wait(request.request_id, timeout=180)
        assert isinstance(again, ImageCompleted)
        assert [o.key for o in again.payload.outputs] == [o.key for o in outputs]
        assert sorted(store.list_keys(settings.s3.output_bucket, "default/")) == before
        assert await _model_runs(port) == 2


async def test_destinations_outside_the_accounts_prefixes_are_refused(
    settings: Settings, store: S3ObjectStore, start_worker: WorkerFactory
) -> None:
    start_worker()
    outputs = [Rendition(), Rendition.model_validate({"key": "someone-else/x.webp"})]
    async with Client(settings, store) as client:
        request = await client.submit(photo_jpeg("coffee"), request_id="far-1", outputs=outputs)
        result = await client.wait(request.request_id, timeout=180)
    assert isinstance(result, ImageFailed)
    assert result.payload.error.code == "output_not_allowed"
    assert not store.list_keys(settings.s3.output_bucket, "default/far-1")


async def test_background_images_from_an_object_and_from_a_web_server(
    settings: Settings, store: S3ObjectStore, start_worker: WorkerFactory
) -> None:
    start_worker()
    backdrop = "uploads/default/backdrops/studio.png"
    store.put(settings.s3.input_bucket, backdrop, _png((80, 60), (0, 90, 200)), "image/png")
    with serve({"/scene.png": lambda h: h.reply(200, _png((90, 60), (200, 30, 30)))}) as web:
        async with Client(settings, store) as client:
            by_object = await client.submit(
                photo_jpeg("coffee"),
                RemovalOptions.model_validate(
                    {"bg_image": f"s3://{settings.s3.input_bucket}/{backdrop}"}
                ),
                outputs=[
                    Rendition(),
                    Rendition.model_validate({"bg_image": {"url": f"{web.url}/scene.png"}}),
                ],
            )
            result = await client.wait(by_object.request_id, timeout=180)
            assert isinstance(result, ImageCompleted), result
            studio = np.asarray(image_of(await client.output(result, 0)).convert("RGBA"))
            scene = np.asarray(image_of(await client.output(result, 1)).convert("RGBA"))
            plain = await client.submit(photo_jpeg("coffee"))
            cutout = await client.wait(plain.request_id, timeout=180)
            assert isinstance(cutout, ImageCompleted)
            cutout_alpha = alpha_of(await client.output(cutout))
        assert [path for _, path, _, _ in web.requests] == ["/scene.png"]
    background = cutout_alpha == 0
    assert background.mean() > 0.05
    assert (studio[background] == (0, 90, 200, 255)).all()
    assert (scene[background] == (200, 30, 30, 255)).all()


async def test_gateway_lists_every_output_and_takes_an_uploaded_backdrop(
    api: RunningGateway,
) -> None:
    outputs = '[{"format": "png"}, {"format": "jpg", "size": "preview"}]'
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        created = await client.post(
            "/v1/jobs",
            files={"image": ("cup.jpg", CUP), "bg_image": ("wall.png", _png((30, 20), (9, 99, 9)))},
            data={"outputs": outputs, "bg_fit": "stretch"},
        )
        assert created.status_code == 202, created.text
        job = await poll(
            client, f"/v1/jobs/{created.json()['id']}", "status", {"succeeded", "failed"}
        )
        assert job["status"] == "succeeded", job
        assert [o["content_type"] for o in job["outputs"]] == ["image/png", "image/jpeg"]
        assert job["output"]["url"] == job["outputs"][0]["url"]
        assert job["outputs"][1]["key"].endswith(".1.jpg")
        pictures = [
            image_of((await client.get(o["url"], headers={"Authorization": ""})).content)
            for o in job["outputs"]
        ]
        assert pictures[0].size == (600, 400)
        assert max(pictures[1].size) == 256
        assert pictures[0].convert("RGBA").getpixel((2, 2)) == (9, 99, 9, 255)
        assert job["options"]["bg_image"]["key"].endswith("/bg-wall.png")

        bad = await client.post(
            "/v1/jobs", json={"image_url": "https://example.com/a.jpg", "outputs": [{"model": "x"}]}
        )
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "invalid_request"
        assert "outputs" in bad.json()["error"]["message"]


async def test_batch_items_get_every_rendition(api: RunningGateway) -> None:
    settings = api.settings
    store = S3ObjectStore(settings)
    bucket = settings.s3.input_bucket
    for index, data in enumerate(tiny_jpegs(2)):
        store.put(bucket, f"uploads/default/rend/p{index}.jpg", data, "image/jpeg")
    lines = [{"id": f"p{i}", "input": f"uploads/default/rend/p{i}.jpg"} for i in (0, 1)]
    body = {
        "batch_id": "rend-1",
        "source": jsonl_source(store, bucket, "uploads/default/rend/items.jsonl", lines),
        "outputs": [
            {"format": "png"},
            {
                "format": "jpg",
                "size": "preview",
                "key": "{account}/thumbs/{batch_id}/{item_id}.{ext}",
            },
        ],
    }
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        created = await client.post("/v1/batches", json=body)
        assert created.status_code == 202, created.text
        view = await finished(client, "rend-1")
        assert view["counts"]["succeeded"] == 2
        rows = rows_of((await client.get("/v1/batches/rend-1/results")).content)
    output_bucket = settings.s3.output_bucket
    for row in rows:
        thumb = f"default/thumbs/rend-1/{row['item_id']}.jpg"
        assert row["output_key"] == f"default/batches/rend-1/{row['item_id']}.png"
        assert row["more_outputs"] == f"s3://{output_bucket}/{thumb}"
        assert image_of(store.get(output_bucket, thumb)).format == "JPEG"
        assert image_of(store.get(output_bucket, row["output_key"])).format == "PNG"
