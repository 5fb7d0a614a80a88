"""Canvases and marketplace presets through the gateway, a worker, Kafka and S3: the sync
route's form and JSON bodies, renditions with different canvases from one request, a
batch item, and bad combinations refused naming the field."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.images import jpeg_bytes, photo
from tests.integration.conftest import CUP
from tests.integration.gateway_helpers import DEV_KEY, RunningGateway, bearer, image_of, poll
from tests.unit.processors.test_canvas import subject_bounds

pytestmark = pytest.mark.integration

CUP_1600 = jpeg_bytes(photo("coffee").resize((1600, 1067), Image.Resampling.LANCZOS))


def fill_and_centre(image: Image.Image) -> tuple[float, float, float]:
    """The subject's longer side over the canvas side, and its centre as fractions."""
    left, top, right, bottom = subject_bounds(image)
    return (
        max(right - left, bottom - top) / image.width,
        (left + right) / 2 / image.width,
        (top + bottom) / 2 / image.height,
    )


def white_corners(image: Image.Image) -> bool:
    width, height = image.size
    corners = ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1))
    return all(image.convert("RGB").getpixel(xy) == (255, 255, 255) for xy in corners)


async def test_the_sync_route_puts_the_subject_on_a_white_square(api: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(DEV_KEY), timeout=90) as client:
        answer = await client.post(
            "/v1/remove-background",
            files={"image": ("cup.jpg", CUP)},
            data={"canvas": "1000x1000", "padding": "10%", "bg_color": "white", "format": "jpg"},
        )
        assert answer.status_code == 200, answer.text
        image = image_of(answer.content)
        assert (image.format, image.size) == ("JPEG", (1000, 1000))
        assert white_corners(image)
        fill, x, y = fill_and_centre(image)
        assert 0.78 <= fill <= 0.82
        assert abs(x - 0.5) <= 0.01
        assert abs(y - 0.5) <= 0.01

        amazon = await client.post(
            "/v1/remove-background",
            json={"image_base64": _data_uri(CUP_1600), "options": {"preset": "amazon"}},
        )
        assert amazon.status_code == 200, amazon.text
        image = image_of(amazon.content)
        assert image.width == image.height >= 1000
        assert white_corners(image)
        assert fill_and_centre(image)[0] >= 0.85


async def test_renditions_on_two_presets_from_one_request(api: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(DEV_KEY), timeout=90) as client:
        created = await client.post(
            "/v1/jobs",
            json={
                "image_base64": _data_uri(CUP_1600),
                "options": {"preset": "amazon"},
                "outputs": [{}, {"preset": "google", "format": "webp"}, {"canvas": None}],
            },
        )
        assert created.status_code == 202, created.text
        job = await poll(
            client, f"/v1/jobs/{created.json()['id']}", "status", {"succeeded", "failed"}
        )
        assert job["status"] == "succeeded", job
        sizes = [(o["width"], o["height"], o["content_type"]) for o in job["outputs"]]
        assert sizes == [
            (2000, 2000, "image/jpeg"),
            (1500, 1500, "image/webp"),
            (1600, 1067, "image/jpeg"),  # the preset's white JPEG, without its canvas
        ]
        got = await client.get(job["outputs"][1]["url"], headers={"Authorization": ""})
        google = image_of(got.content)
        assert abs(fill_and_centre(google)[0] - 0.85) <= 0.01


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"padding": "10%"}, "padding"),
        ({"canvas": "1000x1000", "crop": "true"}, "crop"),
        ({"canvas": "1000x1000", "bg_blur": "10"}, "bg_blur"),
        ({"canvas": "1000"}, "canvas"),
        ({"canvas": "20000x100"}, "canvas"),
        ({"canvas": "1000x1000", "padding": "50%"}, "padding"),
        ({"preset": "walmart"}, "preset"),
        ({"roi": "0,0,0,100"}, "roi"),
    ],
)
async def test_bad_canvas_options_are_refused_naming_the_field(
    api: RunningGateway, fields: dict[str, str], field: str
) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(DEV_KEY), timeout=30) as client:
        answer = await client.post(
            "/v1/remove-background", files={"image": ("cup.jpg", CUP)}, data=fields
        )
    error = answer.json()["error"]
    assert (answer.status_code, error["code"]) == (400, "invalid_request")
    assert error["message"].startswith(f"{field}:"), error["message"]


async def test_a_region_of_interest_keeps_only_its_subject(api: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(DEV_KEY), timeout=90) as client:
        answer = await client.post(
            "/v1/remove-background",
            files={"image": ("cup.jpg", CUP)},
            data={"roi": "0,0,50%,100%"},
        )
    assert answer.status_code == 200, answer.text
    alpha = np.asarray(image_of(answer.content).getchannel("A"))
    assert alpha[:, 300:].max() == 0
    assert alpha[:, :300].max() == 255


def _data_uri(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode()
