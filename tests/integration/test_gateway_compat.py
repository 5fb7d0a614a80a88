"""The compatible shapes (remove-bg JSON, artworks, multipart remove, jobs, rembg; their documents
are ../shared/seeds/000…004), against a real uvicorn gateway on the real stack."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest

from streams.notifier.signing import verify
from tests.httpserver import Server
from tests.integration.conftest import CUP
from tests.integration.gateway_helpers import (
    DEV_KEY,
    TEXT,
    RunningGateway,
    bearer,
    image_of,
    poll,
    until_hooked,
)

pytestmark = pytest.mark.integration

# seed 000 ------------------------------------------------------------------------------


async def test_seed_000_remove_bg(api: RunningGateway) -> None:
    data_uri = "data:image/jpeg;base64," + base64.b64encode(CUP).decode()
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(), timeout=120) as client:
        ok = await client.post("/v1/remove-bg", json={"image": data_uri})
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert (body["success"], body["credits_used"]) == (True, 0)  # internal: free
        png = await client.get(body["image_url"], headers={"Authorization": ""})
        assert image_of(png.content).mode == "RGBA"
        missing = await client.post("/v1/remove-bg", json={})
        bad = await client.post(
            "/v1/remove-bg",
            json={"image": "data:image/png;base64," + base64.b64encode(TEXT).decode()},
        )
        private = await client.post("/v1/remove-bg", json={"image": "https://192.168.1.5/a.jpg"})
        unauthorized = await client.post(
            "/v1/remove-bg", json={"image": data_uri}, headers={"Authorization": ""}
        )
    assert (missing.status_code, missing.json()) == (
        400,
        {
            "success": False,
            "error": {"code": "missing_image", "message": missing.json()["error"]["message"]},
        },
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_image_format")
    assert (private.status_code, private.json()["error"]["code"]) == (400, "url_not_allowed")
    assert (unauthorized.status_code, unauthorized.json()["error"]["code"]) == (
        401,
        "invalid_api_key",
    )


# seed 001 ------------------------------------------------------------------------------


async def test_seed_001_artworks_with_a_webhook(api: RunningGateway, web: Server) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        created = await client.post(
            "/v2/artworks/remove-background",
            json={
                "imageUrl": f"{web.url}/cup.jpg",
                "webhook": f"{web.url}/art-hook",
                "outputFormat": "png",
            },
        )
        assert created.status_code == 202, created.text
        artwork = created.json()
        assert set(artwork) == {
            "id",
            "artworkType",
            "parameters",
            "duration",
            "results",
            "status",
            "createdAt",
        }
        assert artwork["status"] == "starting"
        assert artwork["parameters"]["outputFormat"] == "png"
        done = await poll(
            client, f"/v2/artworks/{artwork['id']}", "status", {"succeeded", "failed"}
        )
        assert done["status"] == "succeeded"
        assert len(done["results"]) == 1
        missing = await client.post("/v2/artworks/remove-background", json={})
        private_hook = await client.post(
            "/v2/artworks/remove-background",
            json={"imageUrl": f"{web.url}/cup.jpg", "webhook": "https://169.254.169.254/hook"},
        )
        unknown = await client.get("/v2/artworks/nope")
    assert missing.json() == {
        "message": missing.json()["message"],
        "statusCode": 400,
        "error": "Bad Request",
    }
    assert private_hook.status_code == 400
    assert "webhook" in private_hook.json()["message"]
    assert unknown.json()["statusCode"] == 404
    headers, body = await until_hooked(web, "/art-hook")
    verify(body, headers, [s.get_secret_value() for s in api.settings.webhooks.secrets])
    assert json.loads(body)["id"] == artwork["id"]
    assert json.loads(body)["status"] == "succeeded"


# seed 002 ------------------------------------------------------------------------------


async def test_seed_002_remove(api: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(), timeout=120) as client:
        ok = await client.post(
            "/v1/remove",
            files={"image": ("cup.jpg", CUP)},
            data={"format": "jpg", "bg_color": "white", "size": "small", "crop": "true"},
        )
        assert ok.status_code == 200, ok.text
        assert ok.headers["content-type"] == "image/jpeg"
        image = image_of(ok.content)
        assert max(image.size) <= 512
        assert (int(ok.headers["x-image-width"]), int(ok.headers["x-image-height"])) == image.size
        errors = [
            await client.post("/v1/remove", data={"format": "png"}),
            await client.post(
                "/v1/remove", files={"image": ("cup.jpg", CUP)}, data={"size": "huge"}
            ),
            await client.post(
                "/v1/remove",
                files={"image": ("big.jpg", b"\xff\xd8\xff" + b"0" * (21 * 1024 * 1024))},
            ),
            await client.post(
                "/v1/remove", files={"image": ("cup.jpg", CUP)}, headers={"Authorization": ""}
            ),
        ]
    assert [(e.status_code, e.json()["error"]["code"]) for e in errors] == [
        (400, "missing_image"),
        (400, "validation_error"),
        (400, "image_too_large"),
        (401, "authentication_error"),
    ]


# seed 003 ------------------------------------------------------------------------------


async def test_seed_003_jobs_with_webhook_and_url_form(api: RunningGateway, web: Server) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        created = await client.post(
            "/api/v1/remove-bg",
            files={"image_file": ("cup.jpg", CUP)},
            data={"webhook_url": f"{web.url}/jobs-hook"},
        )
        assert created.status_code == 202, created.text
        job = created.json()
        assert set(job) == {"jobId", "status", "createdAt", "estimatedCompletionTime"}
        assert job["status"] == "processing"
        assert job["estimatedCompletionTime"].endswith("seconds")
        done = await poll(client, f"/api/v1/jobs/{job['jobId']}", "status", {"completed", "failed"})
        assert done["status"] == "completed"
        assert done["outputUrl"].startswith("http")
        by_url = await client.post("/api/v1/remove-bg", data={"image_url": f"{web.url}/cup.jpg"})
        assert by_url.status_code == 202
        missing = await client.post("/api/v1/remove-bg", data={})
        unknown = await client.get("/api/v1/jobs/nope")
    assert (missing.status_code, missing.json()["code"]) == (400, "missing_image")
    assert set(missing.json()) == {"error", "code"}
    assert unknown.status_code == 404
    headers, body = await until_hooked(web, "/jobs-hook")
    payload = json.loads(body)
    assert set(payload) == {"jobId", "status", "outputUrl", "completedAt"}
    assert (payload["jobId"], payload["status"]) == (job["jobId"], "completed")
    verify(body, headers, [s.get_secret_value() for s in api.settings.webhooks.secrets])


# seed 004 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/v2/rembg/", {}),
        ("/v2/rembg/blur/", {"radius": "12"}),
        ("/v2/rembg/color/", {"bgcolor": "(255, 140, 0, 255)"}),
        (
            "/v2/rembg/gradient/",
            {"top_color": "(255, 140, 0, 255)", "bottom_color": "(229, 46, 113, 255)"},
        ),
        (
            "/v2/rembg/shadow/",
            {"shadow_color": "(0, 0, 0, 120)", "offset": "(10, 15)", "blur_radius": "8"},
        ),
    ],
)
async def test_seed_004_rembg(api: RunningGateway, path: str, fields: dict[str, str]) -> None:
    async with httpx.AsyncClient(
        base_url=api.url, headers={"ApiKey": DEV_KEY}, timeout=120
    ) as client:
        response = await client.post(path, files={"image": ("cup.jpg", CUP)}, data=fields)
    assert response.status_code == 200, response.text
    image = image_of(response.content)
    assert image.size == (600, 400)
    pixels = np.asarray(image.convert("RGBA"))
    if path.endswith(("blur/", "color/", "gradient/")):  # the background is replaced
        assert (pixels[..., 3] == 255).all()
    elif path.endswith("shadow/"):  # black, semi-transparent shadow pixels appear
        shadow = (pixels[..., :3].max(axis=2) == 0) & (pixels[..., 3] > 0) & (pixels[..., 3] < 255)
        assert shadow.sum() > 1000
    else:
        assert (pixels[..., 3] == 0).any()


async def test_seed_004_errors(api: RunningGateway) -> None:
    async with httpx.AsyncClient(
        base_url=api.url, headers={"ApiKey": DEV_KEY}, timeout=60
    ) as client:
        no_radius = await client.post("/v2/rembg/blur/", files={"image": ("cup.jpg", CUP)})
        too_blurry = await client.post(
            "/v2/rembg/blur/", files={"image": ("cup.jpg", CUP)}, data={"radius": "80"}
        )
        not_image = await client.post("/v2/rembg/", files={"image": ("notes.png", TEXT)})
        bad_key = await client.post(
            "/v2/rembg/", files={"image": ("cup.jpg", CUP)}, headers={"ApiKey": "nope"}
        )
    assert no_radius.json()["error"] == "invalid_parameters"
    assert too_blurry.status_code == 400
    assert (not_image.status_code, not_image.json()["error"]) == (400, "invalid_image")
    assert (bad_key.status_code, bad_key.json()["error"]) == (401, "invalid_api_key")
    assert set(bad_key.json()) == {"error", "message"}
