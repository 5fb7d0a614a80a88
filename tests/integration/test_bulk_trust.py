"""Bulk imports no tenant can wedge, starve or overrun, on the real stack: manifest URLs
checked at submit, unreachable and garbage manifests beside another account's batch, item
ids that are taken, and every failure refunded exactly once."""

from __future__ import annotations

import asyncio
import io
import random
import string
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx
import pytest
from PIL import Image

from schemas.batches import BatchSpec, BatchView
from schemas.ledger import UsageEvent
from streams.config.settings import Settings
from streams.messaging.batches import Batches
from streams.stack import ManagedProcess
from streams.storage.s3 import S3ObjectStore
from tests.httpserver import Server, serve
from tests.integration.conftest import CUP, WorkerFactory
from tests.integration.gateway_helpers import RunningGateway, bearer, new_account, poll
from tests.integration.kafka import read_usage
from tests.integration.support import free_port
from tests.integration.test_batches import finished, jsonl_source, rows_of, tiny_jpegs

pytestmark = pytest.mark.integration


async def test_manifest_urls_the_guard_refuses_are_400_naming_the_field(
    api: RunningGateway,
) -> None:
    refused = [
        "http://169.254.169.254/latest/meta-data/x.csv",  # cloud metadata
        "http://10.1.2.3/x.csv",  # private
        "http://[::ffff:10.0.0.1]/x.csv",  # private, spelled as IPv6
        "ftp://example.com/x.csv",  # a scheme no fetcher speaks
        "https://user:pw@example.com/x.csv",  # credentials
    ]
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        for url in refused:
            body = {"source": {"kind": "manifest", "manifest": {"url": url}}}
            answer = await client.post("/v1/batches", json=body)
            assert answer.status_code == 400, (url, answer.text)
            error = answer.json()["error"]
            assert error["code"] in ("url_not_allowed", "invalid_request"), (url, error)
            assert "manifest" in error["message"], error
        prefix = {"kind": "prefix", "bucket": api.settings.s3.input_bucket, "prefix": "x/"}
        dots = await client.post(
            "/v1/batches", json={"source": prefix, "output": {"prefix": "default/../other/"}}
        )
        assert (dots.status_code, dots.json()["error"]["code"]) == (400, "invalid_request")
        assert "output.prefix" in dots.json()["error"]["message"]


def _garbage_csv(rows: int) -> bytes:
    """A manifest of keys that name nothing, as a careless export makes them."""
    pick = random.Random(7)  # noqa: S311 (junk, not secrets)
    letters = string.ascii_letters + string.digits + " =+-@"
    lines = ["id,key"]
    for _ in range(rows):
        junk = "".join(pick.choice(letters) for _ in range(12)).strip() or "x"
        lines.append(f"{junk},uploads/tenant-a/{junk}.jpg")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def bulk_unmetered(
    settings: Settings, start_worker: WorkerFactory
) -> tuple[Settings, dict[str, ManagedProcess]]:
    """A worker and a batch service on this test's topics; no metering (accounts are free)."""
    settings = settings.model_copy(
        update={"metering": settings.metering.model_copy(update={"enabled": False})}
    )
    return settings, {
        "worker": start_worker(settings),
        "batches": start_worker(settings, "batches"),
    }


async def test_one_account_cannot_wedge_or_flood_the_batches_of_another(
    bulk_unmetered: tuple[Settings, dict[str, ManagedProcess]],
) -> None:
    settings, _ = bulk_unmetered
    store = S3ObjectStore(settings)
    bucket = settings.s3.input_bucket
    client = Batches(settings, store, store, "test")
    await client.start()
    try:
        # Account A: two manifests whose host never answers, and 20,000 rows of junk.
        nowhere = f"http://127.0.0.1:{free_port()}"
        for n in (1, 2):
            await client.submit(
                BatchSpec.model_validate(
                    {
                        "batch_id": f"a-unreachable-{n}",
                        "account": "tenant-a",
                        "source": {"kind": "manifest", "manifest": {"url": f"{nowhere}/{n}.csv"}},
                    }
                )
            )
        store.put(bucket, "uploads/tenant-a/junk.csv", _garbage_csv(20_000), "text/csv")
        junk_source = {
            "kind": "manifest",
            "manifest": {"bucket": bucket, "key": "uploads/tenant-a/junk.csv"},
        }
        await client.submit(
            BatchSpec.model_validate(
                {"batch_id": "a-junk", "account": "tenant-a", "source": junk_source}
            )
        )
        await _until(client, "tenant-a", "a-junk", lambda v: v.counts.done >= 500, 120)

        # Account B: three photos, submitted while all of that is under way.
        lines = []
        for index, data in enumerate(tiny_jpegs(3)):
            store.put(bucket, f"uploads/tenant-b/p{index}.jpg", data, "image/jpeg")
            lines.append({"id": f"p{index}", "input": f"uploads/tenant-b/p{index}.jpg"})
        source = jsonl_source(store, bucket, "uploads/tenant-b/items.jsonl", lines)
        started = time.monotonic()
        await client.submit(
            BatchSpec.model_validate(
                {"batch_id": "b-small", "account": "tenant-b", "source": source}
            )
        )
        view = await _until(client, "tenant-b", "b-small", lambda v: v.finished_at is not None, 60)
        took = time.monotonic() - started
        assert view.counts.succeeded == 3, view
        print(f"tenant-b's batch finished in {took:.1f} s beside tenant-a's")

        # A's junk trickles in: never more on the lane than the account may have.
        junk = await client.view("tenant-a", "a-junk")
        limit = settings.batches.max_outstanding_per_account
        assert junk.state == "planning"
        assert junk.counts.queued - junk.counts.done <= limit
        assert junk.counts.total == 20_000
        waiting = await client.view("tenant-a", "a-unreachable-1")
        assert waiting.state == "planning"  # between its bounded retries

        # Cancel stops all of A's at once, retries included.
        for batch_id in ("a-unreachable-1", "a-unreachable-2", "a-junk"):
            await client.cancel("tenant-a", batch_id)
        for batch_id in ("a-unreachable-1", "a-unreachable-2", "a-junk"):
            done = await _until(
                client, "tenant-a", batch_id, lambda v: v.finished_at is not None, 90
            )
            assert done.state == "canceled"
        junk = await client.view("tenant-a", "a-junk")
        assert junk.counts.done == 20_000
        assert junk.counts.canceled > 10_000  # most were never queued
        results = rows_of(await client.results("tenant-a", "a-junk", "csv"))
        assert len(results) == 20_000
        # Cells a spreadsheet would run as formulas are text.
        assert not any(row["item_id"].startswith(("=", "+", "-", "@")) for row in results)
        assert any(row["item_id"].startswith("'=") for row in results)
    finally:
        await client.stop()


async def _until(
    client: Batches, account: str, batch_id: str, done: Any, timeout: float
) -> BatchView:
    deadline = time.monotonic() + timeout
    while True:
        view = await client.view(account, batch_id)
        if done(view):
            return view
        assert time.monotonic() < deadline, f"{batch_id} did not get there: {view}"
        await asyncio.sleep(0.5)


async def _conflicting_batch(api: RunningGateway, web: Server, key: str, batch_id: str) -> None:
    """A job takes `<batch_id>.0` first; then the batch's item 0 ends as a conflict row."""
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(key), timeout=60) as client:
        job = await client.post(
            "/v1/jobs", json={"image_url": f"{web.url}/cup.jpg", "request_id": f"{batch_id}.0"}
        )
        assert job.status_code == 202, job.text
        await poll(client, f"/v1/jobs/{batch_id}.0", "status", {"succeeded"})
        manifest = f"id,url\nfirst,{web.url}/cup.jpg?a\nsecond,{web.url}/cup.jpg?b\n"
        created = await client.post(
            "/v1/batches",
            files={"manifest": ("m.csv", manifest.encode())},
            data={"batch_id": batch_id},
        )
        assert created.status_code == 202, created.text
        view = await finished(client, batch_id)
        assert view["state"] == "completed"
        rows = rows_of((await client.get(f"/v1/batches/{batch_id}/results")).content)
    assert [(row["status"], row["error_code"]) for row in rows] == [
        ("failed", "conflict"),
        ("succeeded", ""),
    ]


async def test_a_batch_item_whose_id_is_taken_fails_as_a_conflict_and_the_batch_ends(
    api: RunningGateway, web: Server
) -> None:
    from tests.integration.gateway_helpers import DEV_KEY

    await _conflicting_batch(api, web, DEV_KEY, f"conf-{uuid.uuid4().hex[:6]}")  # unmetered
    _, key = await new_account(api, "per-usage", credits=10)
    await _conflicting_batch(api, web, key, f"conf-{uuid.uuid4().hex[:6]}")  # through the ledger


def _png_bomb() -> bytes:
    """A small PNG whose header says 100 million pixels."""
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_every_failure_class_refunds_exactly_once_and_the_ledger_balances(
    api: RunningGateway,
) -> None:
    name, key = await new_account(api, "per-usage", credits=100)
    settings = api.settings
    routes = {
        "/cup.jpg": lambda h: h.reply(200, CUP),
        "/broken": lambda h: h.reply(500, b"down"),
        "/gone.jpg": lambda h: h.reply(404, b"no"),
    }
    cases: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    with serve(routes) as host:
        outside = [{"format": "png", "bucket": settings.s3.output_bucket, "key": "someone/x.png"}]
        same_key = [{"key": f"{name}/{{stem}}.png"}, {"key": f"{name}/cup.png"}]
        json_cases: dict[str, dict[str, Any]] = {
            "succeeded": {"image_url": f"{host.url}/cup.jpg"},
            "input_not_found": {"image_url": f"{host.url}/gone.jpg"},
            "input_fetch_failed": {"image_url": f"{host.url}/broken"},
            "output_not_allowed": {"image_url": f"{host.url}/cup.jpg", "outputs": outside},
            "invalid_request": {"image_url": f"{host.url}/cup.jpg", "outputs": same_key},
        }
        files: dict[str, bytes] = {
            "invalid_image_format": CUP[: len(CUP) // 3],
            "resolution_too_high": _png_bomb(),
        }
        async with httpx.AsyncClient(base_url=api.url, headers=bearer(key), timeout=60) as client:
            ids: dict[str, str] = {}
            for expected, body in json_cases.items():
                answer = await client.post("/v1/jobs", json=body)
                assert answer.status_code == 202, (expected, answer.text)
                ids[expected] = answer.json()["id"]
            for expected, data in files.items():
                answer = await client.post("/v1/jobs", files={"image": ("in.png", data)})
                assert answer.status_code == 202, (expected, answer.text)
                ids[expected] = answer.json()["id"]
            for expected, job_id in ids.items():
                job = await poll(client, f"/v1/jobs/{job_id}", "status", {"succeeded", "failed"})
                code = job["error"]["code"] if job["status"] == "failed" else "succeeded"
                assert code == expected, job
                cases[expected] = (job, None)
            # A metered batch: one item runs, one is missing.
            manifest = f"id,url\nok,{host.url}/cup.jpg\nmissing,{host.url}/gone.jpg\n"
            created = await client.post(
                "/v1/batches", files={"manifest": ("m.csv", manifest.encode())}
            )
            assert created.status_code == 202, created.text
            await finished(client, created.json()["batch_id"])
    reserved = len(ids) + 2
    settled = await read_usage(
        settings, name, until=lambda es: sum(e.kind in ("charge", "refund") for e in es) >= reserved
    )
    by_id: dict[str, list[UsageEvent]] = defaultdict(list)
    for event in settled:
        if event.request_id is not None:
            by_id[event.request_id].append(event)
    assert len(by_id) == reserved
    charged = 0
    for request_id, events in by_id.items():
        kinds = [event.kind for event in events]
        assert kinds in (["reserve", "charge"], ["reserve", "refund"]), (request_id, kinds)
        reserve, settle = events
        if settle.kind == "refund":
            assert settle.credits == -reserve.credits, (request_id, events)  # all of it back
        else:
            charged -= reserve.credits
    assert charged == 2  # the succeeded job and the batch item that ran
    balance = settled[-1].balance if settled else None
    assert balance == 100 - charged
