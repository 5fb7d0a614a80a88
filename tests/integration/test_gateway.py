"""The native API, keys, cancellation, timeouts and the fuzzed schema, against a real
uvicorn gateway on the real stack (the compatible shapes are in test_gateway_compat.py)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.result import Err, Ok

from processors.segmenters.catalog import KNOWN_MODELS
from schemas.webhooks import DeliveryAttempt
from streams.config.settings import Settings
from streams.stack import ensure_topics
from streams.storage.apikeys import KeyStore
from streams.storage.jobs import JobStore
from streams.storage.s3 import S3ObjectStore
from tests.httpserver import Server
from tests.integration.conftest import CUP, private_topics
from tests.integration.gateway_helpers import (
    TEXT,
    RunningGateway,
    bearer,
    create_account,
    gateway_settings,
    image_of,
    poll,
    start_gateway,
)

pytestmark = pytest.mark.integration

CUP_BASE64 = base64.b64encode(CUP).decode()

# native --------------------------------------------------------------------------------


async def test_native_job_multipart_poll_and_download(api: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        created = await client.post(
            "/v1/jobs", files={"image": ("cup.jpg", CUP)}, data={"format": "webp", "size": "small"}
        )
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["status"] in ("accepted", "processing")
        assert job["estimated_completion_s"] > 0
        done = await poll(client, f"/v1/jobs/{job['id']}", "status", {"succeeded", "failed"})
        assert done["status"] == "succeeded", done
        assert done["output"]["content_type"] == "image/webp"
        assert done["estimated_completion_s"] is None
        output = await client.get(done["output"]["url"], headers={"Authorization": ""})
        assert image_of(output.content).size == (512, 341)


async def test_a_refused_webhook_shows_in_the_job(api: RunningGateway) -> None:
    """What the notifier records about a URL the guard refuses at delivery reaches the
    caller through the job, not only the operator's dead letters."""
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        created = await client.post("/v1/jobs", files={"image": ("cup.jpg", CUP)})
        job_id = created.json()["id"]
        done = await poll(client, f"/v1/jobs/{job_id}", "status", {"succeeded", "failed"})
        assert done["webhook_last_attempt"] is None
        jobs = JobStore(S3ObjectStore(api.settings), api.settings.s3.jobs_bucket)
        record = await jobs.get("default", job_id)
        assert record is not None
        refusal = DeliveryAttempt(
            webhook_id="w1",
            attempt=1,
            url="https://hooks.example/x",
            outcome="refused",
            error="hooks.example resolves to 10.0.0.7, a private address",
        )
        await jobs.put(record.model_copy(update={"deliveries": [refusal]}))
        seen = (await client.get(f"/v1/jobs/{job_id}")).json()
    assert seen["webhook_deliveries"] == 1
    last = seen["webhook_last_attempt"]
    assert (last["outcome"], last["error"]) == ("refused", refusal.error)


async def test_native_job_json_inline_url_and_idempotency(api: RunningGateway, web: Server) -> None:
    data_uri = "data:image/jpeg;base64," + base64.b64encode(CUP).decode()
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        inline = await client.post(
            "/v1/jobs", json={"image_base64": data_uri, "options": {"channels": "alpha"}}
        )
        by_url = await client.post("/v1/jobs", json={"image_url": f"{web.url}/cup.jpg"})
        assert (inline.status_code, by_url.status_code) == (202, 202)
        first = await client.post(
            "/v1/jobs", json={"image_url": f"{web.url}/cup.jpg", "request_id": "mine-1"}
        )
        again = await client.post(
            "/v1/jobs", json={"image_url": f"{web.url}/cup.jpg", "request_id": "mine-1"}
        )
        assert first.json()["id"] == again.json()["id"] == "mine-1"
        for job in (inline.json(), by_url.json()):
            done = await poll(client, f"/v1/jobs/{job['id']}", "status", {"succeeded", "failed"})
            assert done["status"] == "succeeded", done


async def test_concurrent_jobs_under_one_request_id_compute_once(api: RunningGateway) -> None:
    formats = ["png", "webp", "jpg"] * 4
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(), timeout=60) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/v1/jobs",
                    files={"image": ("cup.jpg", CUP)},
                    data={"format": fmt, "request_id": "dup-1"},
                )
                for fmt in formats
            )
        )
        accepted = [
            fmt for fmt, answer in zip(formats, answers, strict=True) if answer.status_code == 202
        ]
        refused = [answer for answer in answers if answer.status_code == 409]
        assert len(accepted) + len(refused) == 12, [a.text for a in answers]
        (winner,) = set(accepted)  # only the first request's format was accepted
        assert all(a.json()["error"]["code"] == "conflict" for a in refused)
        done = await poll(client, "/v1/jobs/dup-1", "status", {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    assert done["options"]["format"] == winner
    assert done["attempts"] == 1
    outputs = S3ObjectStore(api.settings).list_keys(api.settings.s3.output_bucket, "default/dup-1")
    assert outputs == [f"default/dup-1.{winner}"]


async def test_native_sync_answers_with_the_image_and_headers(api: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(), timeout=120) as client:
        response = await client.post(
            "/v1/remove-background", files={"image": ("cup.jpg", CUP)}, data={"crop": "true"}
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = image_of(response.content)
    assert image.mode == "RGBA"
    assert response.headers["x-request-id"].startswith("req_")
    assert int(response.headers["x-processing-time-ms"]) > 0
    assert (
        int(response.headers["x-image-width"]),
        int(response.headers["x-image-height"]),
    ) == image.size
    assert int(response.headers["x-foreground-width"]) <= image.width


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"options": {}}}, 400, "missing_image"),
        ({"files": {"image": ("notes.jpg", TEXT)}}, 400, "invalid_image_format"),
        ({"json": {"image_base64": "%%%not base64"}}, 400, "invalid_request"),
        ({"json": {"image_url": "https://10.0.0.1/x.jpg"}}, 400, "url_not_allowed"),
        ({"json": {"image_base64": "aGk=", "options": {"bg_blur": 99}}}, 400, "invalid_request"),
        (
            {"json": {"image_url": "https://a/x.jpg", "image_base64": "aGk="}},
            400,
            "invalid_request",
        ),
        (
            {"content": b"x" * (28 * 1024 * 1024), "headers": {"content-type": "application/json"}},
            413,
            "image_too_large",
        ),
        (
            {"json": {"image_url": "https://no-such-host.invalid/x.jpg"}},
            400,
            "input_fetch_failed",  # a host that does not resolve is not a refused URL
        ),
        (
            {"json": {"image_base64": CUP_BASE64, "webhook_url": "https://nope.invalid/h"}},
            400,
            "invalid_request",
        ),
        (
            {"files": {"image": ("cup.jpg", CUP)}, "data": {"bgcolor": "red"}},
            400,
            "invalid_request",
        ),
        (
            {"json": {"image": {"bucket": "cutstream-inputs", "key": "uploads/default/../x.jpg"}}},
            400,
            "invalid_request",
        ),
    ],
)
async def test_native_errors(
    api: RunningGateway, kwargs: dict[str, Any], status: int, code: str
) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(), timeout=60) as client:
        response = await client.post("/v1/jobs", **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_oversized_form_bodies_are_too_large_not_a_parse_error(
    api: RunningGateway,
) -> None:
    body = {"image": ("big.jpg", b"\xff\xd8\xff" + b"x" * (30 * 1024 * 1024))}
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(), timeout=60) as client:
        remove = await client.post("/v1/remove", files=body)
        rembg = await client.post("/v2/rembg/", files=body)
    assert (remove.status_code, remove.json()["error"]["code"]) == (400, "image_too_large")
    assert (rembg.status_code, rembg.json()["error"]) == (400, "invalid_image")


async def test_an_enormous_job_id_is_not_echoed_back(api: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        answer = await client.get("/v1/jobs/" + "a" * 60_000)
    assert answer.status_code == 404
    assert len(answer.content) < 400


async def test_native_auth_and_unknown_jobs(api: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        missing = await client.get("/v1/jobs/whatever")
        wrong = await client.get(
            "/v1/jobs/whatever", headers=bearer("csk_0123456789abcdef_" + "x" * 43)
        )
        unknown = await client.get("/v1/jobs/no-such-job", headers=bearer())
    assert (missing.status_code, wrong.status_code, unknown.status_code) == (401, 401, 404)
    assert missing.json()["error"]["code"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert unknown.json()["error"]["code"] == "not_found"


async def test_stored_keys_work_until_revoked(api: RunningGateway) -> None:
    await create_account(api.settings, "acme")
    store = KeyStore(S3ObjectStore(api.settings), api.settings.s3.jobs_bucket)
    key, record = store.create("acme", "test")
    async with httpx.AsyncClient(base_url=api.url, headers={"ApiKey": key}) as client:
        created = await client.post("/v1/jobs", files={"image": ("cup.jpg", CUP)})
        assert created.status_code == 202, created.text
        assert created.json()["account"] == "acme"
        job_id = created.json()["id"]
        other_account = await client.get(f"/v1/jobs/{job_id}", headers=bearer())  # dev key: default
        assert other_account.status_code == 404  # accounts do not see each other's jobs
        store.revoke(record.key_id)
        assert (await client.get(f"/v1/jobs/{job_id}")).status_code == 401


async def test_object_references_cannot_cross_accounts_or_probe_the_store(
    api: RunningGateway,
) -> None:
    await create_account(api.settings, "alice")
    await create_account(api.settings, "bob")
    keys = KeyStore(S3ObjectStore(api.settings), api.settings.s3.jobs_bucket)
    alice_key, alice_record = keys.create("alice", "victim")
    bob_key, _ = keys.create("bob", "attacker")
    s3 = api.settings.s3
    async with httpx.AsyncClient(base_url=api.url, headers={"ApiKey": alice_key}) as alice:
        upload = await alice.post("/v1/jobs", files={"image": ("cup.jpg", CUP)})
        alices = upload.json()["id"]
        assert (await poll(alice, f"/v1/jobs/{alices}", "status", {"succeeded"}))["output"]
    probes = {
        "upload": (s3.input_bucket, f"uploads/alice/{alices}/cup.jpg"),
        "output": (s3.output_bucket, f"alice/{alices}.png"),
        "key record": (s3.jobs_bucket, f"_keys/{alice_record.key_id}.json"),
        "missing key record": (s3.jobs_bucket, "_keys/0000000000000000.json"),
        "missing bucket": ("no-such-bucket", "x.jpg"),
    }
    answers = {}
    async with httpx.AsyncClient(base_url=api.url, headers={"ApiKey": bob_key}) as bob:
        for name, (bucket, key) in probes.items():
            created = await bob.post("/v1/jobs", json={"image": {"bucket": bucket, "key": key}})
            assert created.status_code == 202, created.text
            done = await poll(bob, f"/v1/jobs/{created.json()['id']}", "status", {"failed"})
            error = done["error"]
            answers[name] = (error["code"], error["message"].replace(f"s3://{bucket}/{key}", "X"))
        climbing = await bob.post(
            "/v1/jobs",
            json={
                "image": {
                    "bucket": s3.input_bucket,
                    "key": f"uploads/bob/../alice/{alices}/cup.jpg",
                }
            },
        )
    assert set(answers.values()) == {("input_not_found", "X does not exist")}, answers
    assert climbing.status_code == 400
    assert climbing.json()["error"]["code"] == "invalid_request"


async def test_estimates_count_what_waits_and_cancel_before_start(
    api: RunningGateway, stack_settings: Settings, tmp_path: Path
) -> None:
    # A gateway whose requests topic no worker reads: jobs stay accepted until canceled.
    # (Unmetered: no ledger reads its commands either.)
    idle = gateway_settings(private_topics(stack_settings))
    idle = idle.model_copy(update={"metering": idle.metering.model_copy(update={"enabled": False})})
    await ensure_topics(idle, idle.all_topics)
    gateway = await start_gateway(idle, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=gateway.url, headers=bearer()) as client:
            for _ in range(3):
                await client.post("/v1/jobs", files={"image": ("cup.jpg", CUP)})
            job = (await client.post("/v1/jobs", files={"image": ("cup.jpg", CUP)})).json()
            # Four requests waiting (read back from the requests topic): a job submitted
            # now waits behind them and then takes its own time, at the assumed 2 s an
            # image while no result has been seen: 2 + 4 × 2 = 10 s.
            await poll(client, f"/v1/jobs/{job['id']}", "estimated_completion_s", {10.0})
            canceled = await client.delete(f"/v1/jobs/{job['id']}")
            assert canceled.status_code == 200, canceled.text
            assert canceled.json()["status"] == "canceled"
            assert (await client.get(f"/v1/jobs/{job['id']}")).json()["status"] == "canceled"
    finally:
        gateway.stop()
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(), timeout=120) as client:
        done = await client.post("/v1/remove-background", files={"image": ("cup.jpg", CUP)})
        conflict = await client.delete(f"/v1/jobs/{done.headers['x-request-id']}")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"


async def test_sync_timeout_is_504_then_the_job_completes(
    api: RunningGateway, tmp_path: Path
) -> None:
    impatient = gateway_settings(api.settings, sync_timeout_s=0.05)
    gateway = await start_gateway(impatient, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=gateway.url, headers=bearer()) as client:
            response = await client.post("/v1/remove-background", files={"image": ("cup.jpg", CUP)})
    finally:
        gateway.stop()
    assert response.status_code == 504
    message = response.json()["error"]["message"]
    job_id = message.rsplit("/v1/jobs/", 1)[1]
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        done = await poll(client, f"/v1/jobs/{job_id}", "status", {"succeeded", "failed"})
    assert done["status"] == "succeeded"


async def test_openapi_documents_every_shape(api: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        spec = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    assert docs.status_code == 200
    paths = set(spec["paths"])
    assert {
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/remove-background",
        "/v1/remove-bg",
        "/v2/artworks/remove-background",
        "/v2/artworks/{artwork_id}",
        "/v1/remove",
        "/api/v1/remove-bg",
        "/api/v1/jobs/{job_id}",
        "/v2/rembg/",
        "/v2/rembg/blur/",
        "/v2/rembg/color/",
        "/v2/rembg/gradient/",
        "/v2/rembg/shadow/",
    } <= paths


# the whole OpenAPI schema, fuzzed ------------------------------------------------------


def test_schemathesis_finds_no_server_error_and_no_schema_violation(api: RunningGateway) -> None:
    """Every operation of the published schema, fuzzed: no 5xx, every answer as documented.

    Driven through schemathesis' Python API (one Hypothesis run per operation) rather than
    its pytest plugin, whose fixture-based loader breaks on pytest 9.
    """
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    results = list(schema.get_all_operations())
    invalid = [result.err() for result in results if isinstance(result, Err)]
    assert not invalid, f"operations the schema describes badly: {invalid}"
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) >= 14
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=10,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(
                base_url=api.url,
                headers=bearer(),
                timeout=120,
                checks=[not_a_server_error, response_schema_conformance],
            )

        fuzz()


async def test_models_lists_what_is_installed_and_a_missing_one_fails_without_server_paths(
    api: RunningGateway,
) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as client:
        listed = (await client.get("/v1/models")).json()  # no key needed: names only
        names = [model["name"] for model in listed]
        installed = {
            name
            for name, spec in KNOWN_MODELS.items()
            if (api.settings.models.dir / spec.file).is_file()
        }
        assert set(names) == installed
        assert listed[0]["name"] == api.settings.models.default
        assert listed[0]["default"] is True
        assert "bria-rmbg" not in names  # known, downloadable elsewhere, not installed here
        response = await client.post(
            "/v1/remove-background",
            headers=bearer(),
            files={"image": ("cup.jpg", CUP)},
            data={"model": "bria-rmbg"},
        )
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "model_not_installed"
    assert "/v1/models" in error["message"]
    assert str(api.settings.models.dir) not in response.text
    assert "models pull" not in response.text
