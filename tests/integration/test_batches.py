"""Bulk imports on the real stack: manifests (CSV with URLs, JSONL with S3 keys, uploaded
over HTTP), bucket prefixes through the CLI, per-item failures, cancel, resubmission, and
kill -9 of the planner and of a worker mid-batch."""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.batches import BatchView
from schemas.ledger import Show
from streams.config.settings import Settings
from streams.messaging.batches import Batches
from streams.stack import ManagedProcess
from streams.storage.jobs import JobStore
from streams.storage.s3 import S3ObjectStore
from tests.httpserver import Handler, Route, Server, serve
from tests.images import alpha_of, jpeg_bytes, photo
from tests.integration.conftest import WorkerFactory
from tests.integration.gateway_helpers import (
    RunningGateway,
    ask_ledger,
    bearer,
    image_of,
    new_account,
    until_hooked,
)
from tests.integration.kafka import read_topic
from tests.integration.support import cutstream

pytestmark = pytest.mark.integration


def tiny_jpegs(count: int, side: int = 96) -> list[bytes]:
    """``count`` distinct small photos (quick through the model)."""
    images = []
    for index in range(count):
        image = photo(("astronaut", "chelsea", "coffee")[index % 3])
        image.thumbnail((side, side))
        images.append(jpeg_bytes(image.rotate(index * 11)))
    return images


async def finished(
    client: httpx.AsyncClient, batch_id: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = await client.get(f"/v1/batches/{batch_id}")
        assert answer.status_code == 200, answer.text
        view: dict[str, Any] = answer.json()
        if view["finished_at"] is not None:
            return view
        assert time.monotonic() < deadline, f"batch {batch_id} did not finish: {view}"
        await asyncio.sleep(0.3)


def reply_with(data: bytes, handler: Handler) -> None:
    handler.reply(200, data)


def jsonl_source(
    store: S3ObjectStore, bucket: str, key: str, lines: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Store ``lines`` as a JSONL manifest at ``s3://bucket/key``; the batch source naming it."""
    store.put(bucket, key, "\n".join(map(json.dumps, lines)).encode(), "text/plain")
    return {"kind": "manifest", "manifest": {"bucket": bucket, "key": key}}


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


# Over HTTP (the session's gateway, worker and batch service) ----------------------------


async def test_csv_of_urls_uploaded_over_http(api: RunningGateway, web: Server) -> None:
    images = dict(zip(("red", "blue", "green"), tiny_jpegs(3), strict=True))
    routes: dict[str, Route] = {
        f"/img/{name}.jpg": functools.partial(reply_with, data) for name, data in images.items()
    }
    with serve(routes) as host:
        manifest = "sku,image_url,format\n" + "".join(
            f"sku-{name},{host.url}/img/{name}.jpg,\n" for name in images
        )
        manifest += f"sku-gone,{host.url}/img/missing.jpg,\n"  # the host answers 404
        manifest += f"sku-bad,{host.url}/img/red.jpg,gif\n"  # an option that does not exist
        async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
            created = await client.post(
                "/v1/batches",
                files={"manifest": ("catalog.csv", manifest.encode())},
                data={
                    "name_template": "{sku}/{stem}.{ext}",
                    "format": "webp",
                    "batch_id": "csv-1",
                    "webhook_url": f"{web.url}/hooks/batch-csv-1",
                },
            )
            assert created.status_code == 202, created.text
            assert created.json()["state"] in ("planning", "running", "completed")
            view = await finished(client, "csv-1")
            assert view["state"] == "completed"
            assert view["counts"] == {
                "total": 5,
                "queued": 5,
                "succeeded": 3,
                "failed": 2,
                "canceled": 0,
            }
            assert view["results_url"]
            answer = await client.get("/v1/batches/csv-1/results")
            assert answer.headers["content-type"].startswith("text/csv")
            rows = rows_of(answer.content)
            assert [row["item_id"] for row in rows] == [
                "sku-red",
                "sku-blue",
                "sku-green",
                "sku-gone",
                "sku-bad",
            ]
            assert [row["status"] for row in rows] == ["succeeded"] * 3 + ["failed"] * 2
            assert rows[0]["output_key"] == "default/batches/csv-1/sku-red/red.webp"
            assert rows[3]["error_code"] == "input_not_found"
            assert rows[4]["error_code"] == "invalid_request"
            assert "format" in rows[4]["error_message"]
            output = await client.get(rows[1]["output_url"], headers={"Authorization": ""})
            assert output.headers["content-type"] == "image/webp"
            assert image_of(output.content).mode == "RGBA"
            # The JSONL form has the same rows, with the box as numbers.
            lines = (await client.get("/v1/batches/csv-1/results?format=jsonl")).text.splitlines()
            assert [json.loads(line)["index"] for line in lines] == [0, 1, 2, 3, 4]
    completed = await read_topic(
        api.settings,
        api.settings.topics.batch_completed,
        until=lambda rs: any(r["batch_id"] == "csv-1" for r in rs),
    )
    event = next(r for r in completed if r["batch_id"] == "csv-1")
    assert event["type"] == "batch.completed"
    assert event["counts"]["failed"] == 2
    assert event["results_key"] == "default/batches/csv-1/results.csv"
    headers, body = await until_hooked(web, "/hooks/batch-csv-1")
    assert headers["webhook-id"] == event["event_id"]
    assert headers["webhook-signature"].startswith("v1,")
    assert json.loads(body)["data"]["counts"] == event["counts"]


async def test_jsonl_of_s3_keys_by_reference_and_resubmitted(api: RunningGateway) -> None:
    settings = api.settings
    store = S3ObjectStore(settings)
    bucket = settings.s3.input_bucket
    for index, data in enumerate(tiny_jpegs(2)):
        store.put(bucket, f"uploads/default/jsonl/p{index}.jpg", data, "image/jpeg")
    store.put(bucket, "uploads/intruder/secret.jpg", tiny_jpegs(1)[0], "image/jpeg")
    lines: list[dict[str, Any]] = [
        {"id": "p0", "input": f"s3://{bucket}/uploads/default/jsonl/p0.jpg"},
        {"id": "p1", "input": "uploads/default/jsonl/p1.jpg", "options": {"format": "jpg"}},
        {"id": "theirs", "input": f"s3://{bucket}/uploads/intruder/secret.jpg"},
    ]
    body = {
        "batch_id": "jsonl-1",
        "source": jsonl_source(store, bucket, "uploads/default/jsonl/items.jsonl", lines),
        "options": {"bg_color": "#ffffff"},
    }
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        assert (await client.post("/v1/batches", json=body)).status_code == 202
        view = await finished(client, "jsonl-1")
        assert view["counts"]["succeeded"] == 2
        rows = rows_of((await client.get("/v1/batches/jsonl-1/results")).content)
        assert [row["status"] for row in rows] == ["succeeded", "succeeded", "failed"]
        assert rows[1]["content_type"] == "image/jpeg"
        assert rows[2]["error_code"] == "input_not_found"  # another account's object
        flattened = store.get(settings.s3.output_bucket, rows[0]["output_key"])
        assert alpha_of(flattened).min() == 255  # a colour background: opaque

        # The same batch again resumes it: nothing runs twice.
        again = await client.post("/v1/batches", json=body)
        assert again.status_code == 200, again.text
        assert again.json()["finished_at"] == view["finished_at"]
        jobs = JobStore(store, settings.s3.jobs_bucket)
        for index in (0, 1):
            record = await jobs.get("default", f"jsonl-1.{index}")
            assert record is not None
            assert record.attempts == 1
        # …and a different batch under the id is a conflict.
        other = {**body, "options": {"format": "webp"}}
        conflict = await client.post("/v1/batches", json=other)
        assert (conflict.status_code, conflict.json()["error"]["code"]) == (409, "conflict")


async def test_batch_refusals_have_codes(api: RunningGateway) -> None:
    settings = api.settings
    bucket = settings.s3.input_bucket
    prefix = {"kind": "prefix", "bucket": bucket, "prefix": "uploads/default/"}
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:

        async def refused(body: Any, status: int, code: str) -> None:
            answer = await client.post("/v1/batches", json=body)
            assert answer.status_code == status, answer.text
            assert answer.json()["error"]["code"] == code

        await refused({"source": prefix, "surprise": 1}, 400, "invalid_request")
        await refused(
            {"source": prefix, "output": {"prefix": "someone-else/"}}, 403, "output_not_allowed"
        )
        await refused({"source": {**prefix, "prefix": "uploads/intruder/"}}, 400, "input_not_found")
        await refused(
            {"source": prefix, "output": {"name_template": "../{id}"}}, 400, "invalid_request"
        )
        missing = await client.get("/v1/batches/no-such-batch")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


async def test_a_metered_account_pays_per_item_through_the_ledger(api: RunningGateway) -> None:
    settings = api.settings
    store = S3ObjectStore(settings)
    name, key = await new_account(api, "per-usage", credits=3)
    bucket = settings.s3.input_bucket
    lines = []
    for index, data in enumerate(tiny_jpegs(5)):
        store.put(bucket, f"uploads/{name}/p{index}.jpg", data, "image/jpeg")
        lines.append({"input": f"uploads/{name}/p{index}.jpg"})
    body = {
        "batch_id": "paid-1",
        "source": jsonl_source(store, bucket, f"uploads/{name}/items.jsonl", lines),
    }
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(key)) as client:
        assert (await client.post("/v1/batches", json=body)).status_code == 202
        view = await finished(client, "paid-1")
        rows = rows_of((await client.get("/v1/batches/paid-1/results")).content)
    # Items are reserved in order: three are admitted and charged, two are refused.
    assert [row["status"] for row in rows] == ["succeeded"] * 3 + ["failed"] * 2
    assert [row["credits"] for row in rows] == ["1", "1", "1", "0", "0"]
    assert {row["error_code"] for row in rows[3:]} == {"insufficient_credits"}
    assert view["credits"] == 3
    [account] = await ask_ledger(settings, Show(account=name))
    assert account is not None
    assert account.credits == 0


# Through the CLI, with processes of the test's own ------------------------------------


@pytest.fixture
def bulk(settings: Settings, start_worker: WorkerFactory) -> dict[str, ManagedProcess]:
    """A worker and a batch service on this test's private topics."""
    return {"worker": start_worker(settings), "batches": start_worker(settings, "batches")}


async def test_a_bucket_prefix_through_the_cli(
    settings: Settings, bulk: dict[str, ManagedProcess], tmp_path: Path
) -> None:
    store = S3ObjectStore(settings)
    bucket = settings.s3.input_bucket
    names = ["shoes/red.jpg", "shoes/blue.jpg", "bags/tote.jpg", "notes.txt"]
    for name, data in zip(names, [*tiny_jpegs(3), b"not an image"], strict=True):
        store.put(bucket, f"uploads/default/catalog/{name}", data, "image/jpeg")
    done = cutstream(
        settings,
        "batch",
        "submit",
        f"s3://{bucket}/uploads/default/catalog/",
        "--id",
        "prefix-1",
        "--wait",
        "--format",
        "webp",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "prefix-1"
    assert "3 succeeded, 0 failed" in done.stderr
    results = tmp_path / "results.csv"
    assert cutstream(settings, "batch", "results", "prefix-1", "-o", str(results)).returncode == 0
    rows = rows_of(results.read_bytes())
    assert [row["item_id"] for row in rows] == ["bags/tote", "shoes/blue", "shoes/red"]
    to_stdout = cutstream(settings, "batch", "results", "prefix-1", "-o", "-")
    assert rows_of(to_stdout.stdout.encode()) == rows
    assert not await asyncio.to_thread(Path("-").exists)  # `-` is standard output, not a file
    keys = store.list_keys(settings.s3.output_bucket, "default/batches/prefix-1/")
    assert sorted(keys) == [
        "default/batches/prefix-1/bags/tote.webp",
        "default/batches/prefix-1/results.csv",
        "default/batches/prefix-1/results.jsonl",
        "default/batches/prefix-1/shoes/blue.webp",
        "default/batches/prefix-1/shoes/red.webp",
    ]
    shown = cutstream(settings, "batch", "status", "prefix-1", "--json")
    view = BatchView.model_validate_json(shown.stdout)
    assert (view.state, view.counts.succeeded, view.eta_s) == ("completed", 3, 0.0)


async def test_cancel_ends_the_rest_canceled(
    settings: Settings, bulk: dict[str, ManagedProcess]
) -> None:
    store = S3ObjectStore(settings)
    bucket = settings.s3.input_bucket
    for index, data in enumerate(tiny_jpegs(40)):
        store.put(bucket, f"uploads/default/many/{index:03d}.jpg", data, "image/jpeg")
    source = f"s3://{bucket}/uploads/default/many/"
    assert cutstream(settings, "batch", "submit", source, "--id", "cancel-1").returncode == 0
    await read_topic(
        settings,
        settings.topics.batch_progress,
        until=lambda rs: sum(r["type"] == "batch.item" for r in rs) >= 2,
    )
    canceled = cutstream(settings, "batch", "cancel", "cancel-1")
    assert canceled.returncode == 0, canceled.stderr
    view = await wait_finished(settings, "cancel-1")
    counts = view.counts
    assert view.state == "canceled"
    assert counts.total == 40
    assert counts.canceled > 0
    assert counts.succeeded + counts.canceled == 40
    rows = rows_of(store.get(settings.s3.output_bucket, "default/batches/cancel-1/results.csv"))
    assert sorted(int(row["index"]) for row in rows) == list(range(40))
    assert {row["error_code"] for row in rows if row["status"] == "canceled"} == {"canceled"}
    # A finished batch cannot be canceled.
    assert "already finished" in cutstream(settings, "batch", "cancel", "cancel-1").stderr


async def wait_finished(settings: Settings, batch_id: str, timeout: float = 180) -> BatchView:
    store = S3ObjectStore(settings)
    client = Batches(settings, store, store, "test")
    deadline = time.monotonic() + timeout
    while True:
        view = await client.view("default", batch_id)
        if view.finished_at is not None:
            return view
        assert time.monotonic() < deadline, f"not finished: {view}"
        await asyncio.sleep(0.5)


class SlowManifest:
    """Serves a CSV manifest of ``count`` rows, one every ``pause_s``, and tiny images."""

    def __init__(self, count: int, pause_s: float) -> None:
        self.count = count
        self.pause_s = pause_s
        self.images = tiny_jpegs(6, side=64)
        self.lock = threading.Lock()
        self.served_rows = 0

    def manifest(self, handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.end_headers()
        host = handler.headers["Host"]
        handler.wfile.write(b"id,url\n")
        for index in range(self.count):
            handler.wfile.write(f"item-{index},http://{host}/img/{index % 6}.jpg\n".encode())
            handler.wfile.flush()
            with self.lock:
                self.served_rows += 1
            time.sleep(self.pause_s)

    def image(self, handler: Handler) -> None:
        handler.reply(200, self.images[int(handler.path.rsplit("/", 1)[1].split(".")[0])])


async def test_kill_minus_9_of_planner_and_worker_leaves_every_item_once(
    settings: Settings, start_worker: WorkerFactory
) -> None:
    # Few items at a time on the lane, so the planner is killed half way through queueing.
    update = {"checkpoint_every": 10, "max_outstanding_per_account": 4}
    settings = settings.model_copy(update={"batches": settings.batches.model_copy(update=update)})
    source = SlowManifest(count=60, pause_s=0.01)
    routes: dict[str, Route] = {"/manifest.csv": source.manifest}
    routes |= {f"/img/{index}.jpg": source.image for index in range(6)}
    with serve(routes) as host:
        worker = start_worker(settings)
        planner = start_worker(settings, "batches")
        submitted = cutstream(
            settings, "batch", "submit", f"{host.url}/manifest.csv", "--id", "kill-1"
        )
        assert submitted.returncode == 0, submitted.stderr
        await read_topic(
            settings,
            settings.topics.batch_progress,
            until=lambda rs: sum(r["type"] == "batch.item" for r in rs) >= 12,
        )
        planner.send_signal(signal.SIGKILL)
        assert planner.wait(timeout=10) == -signal.SIGKILL
        replanner = start_worker(settings, "batches")
        await read_topic(
            settings,
            settings.topics.batch_progress,
            until=lambda rs: sum(r["type"] == "batch.item" for r in rs) >= 30,
        )
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
        start_worker(settings)
        view = await wait_finished(settings, "kill-1", timeout=240)
    # The second planner resumed at a checkpoint, not at the start, and never read the
    # source again (it was read once, whole, by the first).
    assert re.search(r"planning batch default/kill-1 from item [1-9]", replanner.log_tail(400))
    assert source.served_rows == 60
    assert view.counts.model_dump() == {
        "total": 60,
        "queued": 60,
        "succeeded": 60,
        "failed": 0,
        "canceled": 0,
    }
    store = S3ObjectStore(settings)
    rows = rows_of(store.get(settings.s3.output_bucket, "default/batches/kill-1/results.csv"))
    assert [row["item_id"] for row in rows] == [f"item-{index}" for index in range(60)]
    assert {row["status"] for row in rows} == {"succeeded"}
    assert len(store.list_keys(settings.s3.output_bucket, "default/batches/kill-1/")) == 62


def readme_bulk_example() -> list[str]:
    """The shell lines of the README's bulk-import example, as written."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Bulk imports", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


async def test_the_readme_bulk_example_runs_as_written(
    settings: Settings, bulk: dict[str, ManagedProcess], tmp_path: Path
) -> None:
    (tmp_path / "shoe-1.jpg").write_bytes(jpeg_bytes(photo("coffee")))
    (tmp_path / "shoe-2.jpg").write_bytes(jpeg_bytes(photo("chelsea")))
    env = {**settings.to_env(), "PATH": "/usr/bin:/bin"}
    for line in readme_bulk_example():
        command = line.replace(".venv/bin/cutstream", f"{sys.executable} -m streams")
        ran = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ran.returncode == 0, f"{line}\n{ran.stdout}\n{ran.stderr}"
    rows = rows_of((tmp_path / "results.csv").read_bytes())
    assert [(row["item_id"], row["status"]) for row in rows] == [
        ("shoe-1", "succeeded"),
        ("shoe-2", "succeeded"),
    ]
    assert all(row["output_key"].endswith(("shoe-1.webp", "shoe-2.webp")) for row in rows)
