"""Metering on the real stack: the ledger admits, charges and refunds exactly once, and
every API shape answers 402 / 403 / 429 the way its document says."""

from __future__ import annotations

import asyncio
import base64
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.ledger import AccountView, Reserve, SetStatus, Settle, Show
from streams.config.settings import Settings
from streams.messaging.ledger import LedgerClient
from streams.stack import ensure_topics
from streams.storage.accounts import AccountViews
from streams.storage.apikeys import KeyStore
from streams.storage.s3 import S3ObjectStore
from tests.httpserver import Server
from tests.integration.conftest import CUP, private_topics
from tests.integration.gateway_helpers import (
    RunningGateway,
    ask_ledger,
    create_account,
    gateway_settings,
    new_account,
    poll,
    start_gateway,
)
from tests.integration.kafka import read_usage
from tests.integration.support import free_port, start_service

pytestmark = pytest.mark.integration

CUP_URI = "data:image/jpeg;base64," + base64.b64encode(CUP).decode()


async def show(settings: Settings, name: str) -> AccountView:
    [view] = await ask_ledger(settings, Show(account=name))
    assert view is not None
    return view


async def until_credits(settings: Settings, name: str, credits: int) -> AccountView:
    deadline = time.monotonic() + 90
    while (view := await show(settings, name)).credits != credits:
        assert time.monotonic() < deadline, f"{name} has {view.credits} credits, not {credits}"
        await asyncio.sleep(0.3)
    return view


async def until_projected(api: RunningGateway, name: str, status: str) -> None:
    """Wait until the ledger's projection (what polls check) shows ``status``."""
    projection = AccountViews(S3ObjectStore(api.settings), api.settings.s3.jobs_bucket)
    deadline = time.monotonic() + 30
    while (view := projection.get(name)) is None or view.status != status:
        assert time.monotonic() < deadline, f"{name} never projected as {status}"
        await asyncio.sleep(0.2)


# Each shape's submission, given an httpx client and a web server with /cup.jpg.
Submit = Callable[[httpx.AsyncClient, Server], Awaitable[httpx.Response]]
SHAPES: dict[str, Submit] = {
    "native": lambda c, w: c.post("/v1/jobs", files={"image": ("cup.jpg", CUP)}),
    "remove-bg": lambda c, w: c.post("/v1/remove-bg", json={"image": CUP_URI}),
    "artworks": lambda c, w: c.post(
        "/v2/artworks/remove-background", json={"imageUrl": f"{w.url}/cup.jpg"}
    ),
    "remove": lambda c, w: c.post("/v1/remove", files={"image": ("cup.jpg", CUP)}),
    "jobs": lambda c, w: c.post("/api/v1/remove-bg", files={"image_file": ("cup.jpg", CUP)}),
    "rembg": lambda c, w: c.post("/v2/rembg/", files={"image": ("cup.jpg", CUP)}),
}


def error_of(shape: str, response: httpx.Response) -> Any:
    """The code (or, for artworks, the ``{statusCode, error}``) an error body carries."""
    body = response.json()
    if shape == "remove-bg":
        assert body["success"] is False
        return body["error"]["code"]
    if shape == "artworks":
        assert set(body) == {"message", "statusCode", "error"}
        return (body["statusCode"], body["error"])
    if shape == "jobs":
        assert set(body) == {"error", "code"}
        return body["code"]
    if shape == "rembg":
        return body["error"]
    return body["error"]["code"]


# Each shape's answer to: credits short (402), suspended (403), over the limit (429).
REFUSALS: dict[str, tuple[Any, Any, Any]] = {
    "native": ("insufficient_credits", "account_suspended", "rate_limit_exceeded"),
    "remove-bg": ("insufficient_credits", "account_suspended", "rate_limit_exceeded"),
    "artworks": ((402, "Payment Required"), (403, "Forbidden"), (429, "Too Many Requests")),
    "remove": ("payment_required", "account_suspended", "rate_limit_exceeded"),
    "jobs": ("insufficient_credits", "account_suspended", "rate_limit_exceeded"),
    "rembg": ("insufficient_credits", "account_suspended", "rate_limit_exceeded"),
}


@pytest.mark.parametrize("shape", SHAPES)
async def test_each_shape_answers_402_403_and_429(
    api: RunningGateway, web: Server, shape: str
) -> None:
    submit = SHAPES[shape]
    broke, broke_key = await new_account(api, "per-usage", credits=0)
    suspended, suspended_key = await new_account(api, "per-usage", credits=100)
    await ask_ledger(api.settings, SetStatus(account=suspended, status="suspended"))
    _, limited_key = await new_account(api, "test-minute")
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as client:
        client.headers["ApiKey"] = broke_key
        payment = await submit(client, web)
        client.headers["ApiKey"] = suspended_key
        forbidden = await submit(client, web)
        client.headers["ApiKey"] = limited_key
        if time.time() % 60 > 45:  # keep both requests in one minute window
            await asyncio.sleep(61 - time.time() % 60)
        first = await client.post("/v1/jobs", files={"image": ("cup.jpg", CUP)})
        limited_answer = await submit(client, web)
    payment_code, suspended_code, limited_code = REFUSALS[shape]
    assert (payment.status_code, error_of(shape, payment)) == (402, payment_code)
    assert (forbidden.status_code, error_of(shape, forbidden)) == (403, suspended_code)
    assert first.status_code == 202, first.text
    assert first.headers["X-RateLimit-Limit"] == "1"
    assert first.headers["X-RateLimit-Remaining"] == "0"
    assert first.headers["RateLimit-Policy"] == '"minute";q=1;w=60'
    assert (limited_answer.status_code, error_of(shape, limited_answer)) == (429, limited_code)
    retry_after = int(limited_answer.headers["Retry-After"])
    reset = int(limited_answer.headers["X-RateLimit-Reset"])
    assert 1 <= retry_after <= 60
    assert abs(reset - (time.time() + retry_after)) <= 3
    assert limited_answer.headers["RateLimit"].startswith('"minute";r=0;t=')
    # Refusals cost nothing.
    assert (await show(api.settings, broke)).credits == 0
    assert (await show(api.settings, suspended)).credits == 100


async def test_suspended_accounts_get_403_on_polls_and_cancels_too(api: RunningGateway) -> None:
    name, key = await new_account(api, "per-usage", credits=10)
    async with httpx.AsyncClient(base_url=api.url, headers={"ApiKey": key}) as client:
        created = await client.post("/v1/jobs", files={"image": ("cup.jpg", CUP)})
        assert created.status_code == 202, created.text
        job = created.json()["id"]
        await ask_ledger(api.settings, SetStatus(account=name, status="suspended"))
        await until_projected(api, name, "suspended")
        answers = {
            "native poll": await client.get(f"/v1/jobs/{job}"),
            "native cancel": await client.delete(f"/v1/jobs/{job}"),
            "artworks poll": await client.get(f"/v2/artworks/{job}"),
            "jobs poll": await client.get(f"/api/v1/jobs/{job}"),
        }
        await ask_ledger(api.settings, SetStatus(account=name, status="active"))
        await until_projected(api, name, "active")
        again = await client.get(f"/v1/jobs/{job}")
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 403)
    assert answers["artworks poll"].json()["statusCode"] == 403
    assert answers["jobs poll"].json()["code"] == "account_suspended"
    assert again.status_code == 200


async def test_charges_on_success_and_reports_what_was_charged(api: RunningGateway) -> None:
    name, key = await new_account(api, "per-usage", credits=100)
    async with httpx.AsyncClient(base_url=api.url, headers={"ApiKey": key}, timeout=120) as client:
        remove_bg = await client.post("/v1/remove-bg", json={"image": CUP_URI})
        native = await client.post("/v1/remove-background", files={"image": ("cup.jpg", CUP)})
        job_url = f"/v1/jobs/{native.headers['X-Request-ID']}"
        job = await poll(client, job_url, "status", {"succeeded"})
    assert remove_bg.status_code == 200, remove_bg.text
    assert remove_bg.json()["credits_used"] == 10  # seed 000's price
    assert native.status_code == 200, native.text
    assert native.headers["X-Credits-Charged"] == "1"
    assert job["credits_charged"] == 1
    await until_credits(api.settings, name, 89)


async def test_a_failed_image_is_refunded(api: RunningGateway) -> None:
    name, key = await new_account(api, "per-usage", credits=5)
    truncated = CUP[: len(CUP) // 3]  # a JPEG header, then nothing: the worker fails it
    async with httpx.AsyncClient(base_url=api.url, headers={"ApiKey": key}) as client:
        created = await client.post("/v1/jobs", files={"image": ("cup.jpg", truncated)})
        assert created.status_code == 202, created.text
        job = await poll(client, f"/v1/jobs/{created.json()['id']}", "status", {"failed"})
    assert job["error"]["code"] == "invalid_image_format"
    assert job["credits_charged"] == 0
    await until_credits(api.settings, name, 5)


async def test_a_canceled_job_is_refunded(
    api: RunningGateway, stack_settings: Settings, tmp_path: Path
) -> None:
    # A gateway and ledger whose requests no worker reads: the job waits until canceled.
    settings = gateway_settings(private_topics(stack_settings))
    await ensure_topics(settings, settings.all_topics)
    ledger = start_service(settings, "ledger", tmp_path)
    gateway = await start_gateway(settings, tmp_path)
    try:
        name = f"acct-{uuid.uuid4().hex[:10]}"
        await create_account(settings, name, "per-usage", 3)
        key, _ = KeyStore(S3ObjectStore(settings), settings.s3.jobs_bucket).create(name)
        async with httpx.AsyncClient(base_url=gateway.url, headers={"ApiKey": key}) as client:
            created = await client.post("/v1/jobs", files={"image": ("cup.jpg", CUP)})
            assert created.status_code == 202, created.text
            assert (await show(settings, name)).credits == 2
            job = created.json()["id"]
            assert (await client.delete(f"/v1/jobs/{job}")).json()["status"] == "canceled"
            assert (await client.delete(f"/v1/jobs/{job}")).status_code == 200  # again: no-op
        await until_credits(settings, name, 3)
        await asyncio.sleep(1)
        assert (await show(settings, name)).credits == 3  # refunded once, not twice
    finally:
        gateway.stop()
        ledger.stop(15)


async def test_exactly_as_many_admitted_as_credits_across_two_gateways(
    api: RunningGateway, tmp_path: Path
) -> None:
    second = await start_gateway(
        api.settings.model_copy(
            update={"gateway": api.settings.gateway.model_copy(update={"port": free_port()})}
        ),
        tmp_path,
    )
    try:
        name, key = await new_account(api, "per-usage", credits=50)
        tiny = _tiny_jpeg()
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(headers={"ApiKey": key}, timeout=60, limits=limits) as client:
            answers = await asyncio.gather(
                *[
                    client.post(
                        f"{(api.url, second.url)[i % 2]}/v1/jobs",
                        files={"image": ("tiny.jpg", tiny)},
                    )
                    for i in range(200)
                ]
            )
        statuses = [answer.status_code for answer in answers]
        assert statuses.count(202) == 50, statuses
        assert statuses.count(402) == 150, statuses
        await until_credits(api.settings, name, 0)  # every admitted image charged
    finally:
        second.stop()


async def test_ledger_killed_mid_burst_charges_once_and_loses_no_refund(
    api: RunningGateway, stack_settings: Settings, tmp_path: Path
) -> None:
    """kill -9 the ledger while 120 reservations and then 120 refunds are in flight;
    after a restart every command is sent again (as a client would retry): each request
    is admitted at most once, exactly as many as the credits allow, and every refund is
    applied exactly once."""
    settings = private_topics(stack_settings)
    await ensure_topics(settings, settings.all_topics)
    ledger = start_service(settings, "ledger", tmp_path)
    name = f"acct-{uuid.uuid4().hex[:10]}"
    await create_account(settings, name, "per-usage", 60)
    ids = [f"req_{i:04d}" for i in range(120)]
    client = LedgerClient(settings, "test")
    await client.start()
    try:
        reserves = [Reserve(account=name, request_id=r, price=1) for r in ids]
        sends = [asyncio.create_task(client.tell(command)) for command in reserves]
        await asyncio.sleep(0.05)
        ledger.send_signal(signal.SIGKILL)
        ledger.wait(10)
        await asyncio.gather(*sends)
        ledger = start_service(settings, "ledger", tmp_path)
        replies = await ask_ledger(settings, *reserves)
        admitted = [rid for rid, view in zip(ids, replies, strict=True) if view is not None]
        assert len(admitted) == 60
        assert (await show(settings, name)).credits == 0
        refunds = [Settle(account=name, request_id=r, outcome="refund") for r in admitted]
        sends = [asyncio.create_task(client.tell(command)) for command in refunds]
        await asyncio.sleep(0.05)
        ledger.send_signal(signal.SIGKILL)
        ledger.wait(10)
        await asyncio.gather(*sends)
        ledger = start_service(settings, "ledger", tmp_path)
        await ask_ledger(settings, *refunds)
        assert (await show(settings, name)).credits == 60
    finally:
        await client.stop()
        ledger.stop(15)


def _tiny_jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(CUP)).resize((96, 64)).save(buffer, "JPEG")
    return buffer.getvalue()


async def test_an_unanswered_admission_is_503_and_never_runs_or_costs(
    stack_settings: Settings, tmp_path: Path
) -> None:
    """The ledger is down when the request comes: 503 after `reply_timeout_s`, the job
    canceled; when the ledger comes back it admits the waiting command, then refunds it."""
    settings = gateway_settings(private_topics(stack_settings))
    settings = settings.model_copy(
        update={"metering": settings.metering.model_copy(update={"reply_timeout_s": 1.0})}
    )
    await ensure_topics(settings, settings.all_topics)
    ledger = start_service(settings, "ledger", tmp_path)
    name = f"acct-{uuid.uuid4().hex[:10]}"
    await create_account(settings, name, "per-usage", 3)
    ledger.stop(15)
    gateway = await start_gateway(settings, tmp_path)
    try:
        key, _ = KeyStore(S3ObjectStore(settings), settings.s3.jobs_bucket).create(name)
        async with httpx.AsyncClient(base_url=gateway.url, headers={"ApiKey": key}) as client:
            answer = await client.post("/v1/jobs", files={"image": ("cup.jpg", CUP)})
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "unavailable"
        ledger = start_service(settings, "ledger", tmp_path)
        await until_credits(settings, name, 3)
        usage = await read_usage(
            settings, name, until=lambda es: es[-1:] != [] and es[-1].kind == "refund"
        )
        assert [event.kind for event in usage] == ["create", "reserve", "refund"]
    finally:
        gateway.stop()
        ledger.stop(15)
