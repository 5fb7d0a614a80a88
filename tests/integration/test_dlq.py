"""Dead-letter tooling on a stack of its own: an S3 outage long enough to exhaust the
retries dead-letters requests; after recovery `cutstream dlq replay` completes each of them
exactly once, and a second replay needs --force."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from pathlib import Path

import pytest

from schemas.refs import S3Object
from streams.client import Client
from streams.stack import EmbeddedStack, ensure_topics
from streams.storage.jobs import JobStore
from streams.storage.layout import upload_key
from streams.storage.s3 import S3ObjectStore
from tests.images import jpeg_bytes, photo
from tests.integration.conftest import WorkerFactory, embedded_settings, private_topics
from tests.integration.kafka import read_topic
from tests.integration.support import cutstream

pytestmark = pytest.mark.integration

COUNT = 4


async def test_an_s3_outage_then_a_replay_completes_every_request_once(
    tmp_path: Path, start_worker: WorkerFactory
) -> None:
    # The broker keeps its log in memory, so it stays up while S3 is down.
    own = embedded_settings(tmp_path / "state", stack={"kafka_storage": "memory"})
    stack = EmbeddedStack(own)
    await stack.start()
    try:
        settings = private_topics(own)
        await ensure_topics(settings, settings.all_topics)
        store = S3ObjectStore(settings)
        image = photo("coffee")
        image.thumbnail((128, 128))
        key = upload_key("default", "dlq", "cup.jpg")
        store.put(settings.s3.input_bucket, key, jpeg_bytes(image), "image/jpeg")
        async with Client(settings, store) as client:
            requests = [
                await client.submit(S3Object(bucket=settings.s3.input_bucket, key=key))
                for _ in range(COUNT)
            ]
        ids = {request.request_id for request in requests}

        outage = asyncio.create_task(stack.restart("s3", downtime_s=30))
        await asyncio.sleep(1)  # S3 is down now
        start_worker(settings)
        letters = await read_topic(
            settings, settings.topics.dead_letter, until=lambda rs: len(rs) >= COUNT, timeout=90
        )
        assert {letter["request_id"] for letter in letters} == ids
        assert {letter["reason"] for letter in letters} == {"retries_exhausted"}
        await outage  # S3 is back

        listed = cutstream(settings, "dlq", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        shown = [json.loads(line) for line in listed.stdout.splitlines()]
        assert {letter["request_id"] for letter in shown} == ids
        one = cutstream(settings, "dlq", "show", shown[0]["event_id"])
        assert json.loads(one.stdout)["error"]["code"] == "storage_unavailable"
        table = cutstream(settings, "dlq", "list", env={"COLUMNS": "80"})
        assert table.returncode == 0, table.stderr
        assert all(letter["event_id"] in table.stdout for letter in shown)  # never cut
        start = shown[0]["event_id"][:12]
        by_start = cutstream(settings, "dlq", "show", start)
        assert json.loads(by_start.stdout)["event_id"] == shown[0]["event_id"]

        dry = cutstream(settings, "dlq", "replay", "--reason", "retries_exhausted", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"{COUNT} of {COUNT} letter(s) would be replayed" in dry.stderr
        done = cutstream(settings, "dlq", "replay", "--reason", "retries_exhausted")
        assert done.returncode == 0, done.stderr
        assert f"{COUNT} of {COUNT} letter(s) replayed" in done.stderr

        completed = await read_topic(
            settings,
            settings.topics.completed,
            until=lambda rs: {r["request_id"] for r in rs} >= ids,
            timeout=90,
        )
        # A second replay is refused without --force; with it, the worker answers from
        # the job records: still one result per request, nothing computed twice.
        again = cutstream(settings, "dlq", "replay", "--reason", "retries_exhausted")
        assert again.returncode == 1
        assert "already_replayed" in again.stderr
        forced = cutstream(settings, "dlq", "replay", "--all", "--force")
        assert forced.returncode == 0, forced.stderr
        completed = await read_topic(
            settings,
            settings.topics.completed,
            until=lambda rs: len(rs) >= 2 * COUNT,
            timeout=90,
        )
        event_ids: dict[str, set[str]] = defaultdict(set)
        for event in completed:
            event_ids[event["request_id"]].add(event["event_id"])
        assert set(event_ids) == ids
        assert all(len(found) == 1 for found in event_ids.values())
        job_store = JobStore(store, settings.s3.jobs_bucket)
        for request_id in ids:
            record = await job_store.get("default", request_id)
            assert record is not None
            assert record.status == "succeeded"
    finally:
        stack.stop()
