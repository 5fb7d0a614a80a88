"""Nothing lost, nothing doubled: crashes, broker restarts, S3 outages, poison messages,
several workers — on the real embedded stack."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from schemas.errors import ErrorCode
from schemas.events import ImageCompleted
from schemas.jobs import JobStatus
from schemas.options import RemovalOptions
from streams.client import Client, Outcome
from streams.config.settings import Settings
from streams.stack import EmbeddedStack, ensure_topics
from streams.storage.jobs import JobStore
from streams.storage.s3 import S3ObjectStore
from tests.images import PHOTOS, photo
from tests.integration.conftest import WorkerFactory, embedded_settings, private_topics
from tests.integration.kafka import BIG, produce_raw, read_topic, wait_for_partitions
from tests.integration.support import (
    SERVER_LOGS,
    error_lines,
    free_port,
    start_service,
)

pytestmark = pytest.mark.integration


def small_photos(directory: Path, count: int, side: int = 320) -> list[Path]:
    """``count`` distinct small JPEGs (quick to process, so a run has many requests)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        image = photo(PHOTOS[index % len(PHOTOS)])
        image.thumbnail((side, side))
        image = image.rotate(index * 7, expand=False)
        path = directory / f"img{index:03d}.jpg"
        image.save(path, "JPEG", quality=85)
        paths.append(path)
    return paths


async def submit_all(settings: Settings, sources: list[Path], out: Path) -> list[Outcome]:
    async with Client(settings, S3ObjectStore(settings)) as client:
        return await client.submit_files(sources, out, RemovalOptions(), timeout=300)


async def assert_exactly_once(settings: Settings, outcomes: list[Outcome], count: int) -> None:
    """Every request finished in its job record, one output object each, none missing."""
    store = S3ObjectStore(settings)
    jobs = JobStore(store, settings.s3.jobs_bucket)
    assert len({o.request_id for o in outcomes}) == count
    for outcome in outcomes:
        assert isinstance(outcome.event, ImageCompleted), outcome.event
        record = await jobs.get("default", outcome.request_id)
        assert record is not None
        assert record.status is JobStatus.SUCCEEDED
        assert record.result_event_id == outcome.event.event_id
        keys = store.list_keys(settings.s3.output_bucket, f"default/{outcome.request_id}.")
        assert keys == [f"default/{outcome.request_id}.png"]


async def completed_events(settings: Settings, count: int) -> dict[str, set[str]]:
    """request id → the distinct event ids of its completed events on the topic."""
    records = await read_topic(
        settings,
        settings.topics.completed,
        until=lambda rs: len({r["request_id"] for r in rs}) >= count,
    )
    ids: dict[str, set[str]] = defaultdict(set)
    for record in records:
        ids[record["request_id"]].add(record["event_id"])
    return ids


async def test_poison_and_schema_violating_messages_go_to_the_dead_letter_topic(
    settings: Settings, start_worker: WorkerFactory, tmp_path: Path
) -> None:
    start_worker()
    violating = b'{"request_id": "req-broken", "payload": {"input": {"bucket": "inputs"}}}'
    await produce_raw(settings, settings.topics.requests, [b"\xff\xfe binary, not json", violating])
    (good,) = small_photos(tmp_path / "in", 1)
    (outcome,) = await submit_all(settings, [good], tmp_path / "out")
    assert isinstance(outcome.event, ImageCompleted)  # the worker kept consuming

    letters = await read_topic(settings, settings.topics.dead_letter, until=lambda rs: len(rs) >= 2)
    by_reason = {letter["reason"]: letter for letter in letters}
    assert set(by_reason) == {"unparseable", "invalid_request"}
    assert by_reason["unparseable"]["original_encoding"] == "base64"
    assert by_reason["invalid_request"]["request_id"] == "req-broken"
    assert "payload.input" in by_reason["invalid_request"]["error"]["message"]
    assert by_reason["invalid_request"]["source_topic"] == settings.topics.requests
    failed = await read_topic(settings, settings.topics.failed, until=lambda rs: len(rs) >= 1)
    assert failed[0]["request_id"] == "req-broken"
    assert failed[0]["payload"]["error"]["code"] == ErrorCode.INVALID_REQUEST


async def test_records_larger_than_the_producer_limit_never_stop_the_worker(
    settings: Settings, start_worker: WorkerFactory, tmp_path: Path
) -> None:
    worker = start_worker()
    junk = b"\xff" + b"j" * BIG
    long_trace = json.dumps(
        {"request_id": "req-long", "trace_id": "t" * BIG, "payload": {"input": {"url": "x"}}}
    ).encode()
    await produce_raw(settings, settings.topics.requests, [junk, long_trace])
    due_now = {"cutstream-attempt": b"1", "cutstream-not-before": b"0"}
    await produce_raw(settings, settings.retry_topics[0], [junk], headers=due_now)
    (good,) = small_photos(tmp_path / "in", 1)
    (outcome,) = await submit_all(settings, [good], tmp_path / "out")
    assert isinstance(outcome.event, ImageCompleted)  # nothing held the partitions back

    letters = await read_topic(settings, settings.topics.dead_letter, until=lambda rs: len(rs) >= 3)
    by_source = {letter["source_topic"]: letter for letter in letters}
    assert {letter["reason"] for letter in letters} == {
        "unparseable",
        "invalid_request",
        "handler_error",  # the retry tier could not forward it: too large to produce
    }
    forwarded = by_source[settings.retry_topics[0]]
    assert "MessageSizeTooLarge" in forwarded["error"]["message"]
    assert forwarded["source_headers"]["cutstream-attempt"] == "1"
    for letter in letters:
        assert letter["original_truncated"] is True
        assert letter["original_size_bytes"] > BIG
        assert len(json.dumps(letter)) < settings.kafka.max_message_bytes
    assert hashlib.sha256(junk).hexdigest() in {letter["original_sha256"] for letter in letters}

    # Everything was acked: a new worker in the group starts after it, re-reading nothing.
    worker.stop(timeout=30)
    start_worker()
    (later,) = small_photos(tmp_path / "later", 1)
    (outcome,) = await submit_all(settings, [later], tmp_path / "out2")
    assert isinstance(outcome.event, ImageCompleted)
    again = await read_topic(settings, settings.topics.dead_letter, until=lambda rs: len(rs) >= 3)
    assert len(again) == 3


async def test_two_workers_share_the_partitions_and_both_make_progress(
    stack_settings: Settings, start_worker: WorkerFactory, tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    base = private_topics(stack_settings)
    await ensure_topics(base, base.all_topics)
    workers = [
        base.model_copy(update={"worker": base.worker.model_copy(update={"web_port": port})})
        for port in ports
    ]
    for worker_settings in workers:
        start_worker(worker_settings)
    owned = [await wait_for_partitions(port, base.topics.requests) for port in ports]
    assert not set(owned[0]) & set(owned[1])  # each partition has one owner

    outcomes = await submit_all(base, small_photos(tmp_path / "in", 24), tmp_path / "out")
    producers = {o.event.payload.worker for o in outcomes if isinstance(o.event, ImageCompleted)}
    assert len(outcomes) == 24
    assert len(producers) == 2, producers
    async with httpx.AsyncClient() as client:
        counts = []
        for port in ports:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            metrics = response.text
            line = next(
                row
                for row in metrics.splitlines()
                if row.startswith('cutstream_requests_total{code="",outcome="succeeded"}')
            )
            counts.append(float(line.split()[-1]))
    assert sum(counts) >= 24
    assert all(count > 0 for count in counts)


async def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(
    settings: Settings, start_worker: WorkerFactory, tmp_path: Path
) -> None:
    first = start_worker()
    sources = small_photos(tmp_path / "in", 50)
    submission = asyncio.create_task(submit_all(settings, sources, tmp_path / "out"))
    await read_topic(settings, settings.topics.completed, until=lambda rs: len(rs) >= 8)
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    start_worker()

    outcomes = await submission
    await assert_exactly_once(settings, outcomes, 50)
    for request_id, event_ids in (await completed_events(settings, 50)).items():
        assert len(event_ids) == 1, f"{request_id} got different results: {event_ids}"


async def test_sigterm_finishes_or_hands_back_the_batch(
    settings: Settings, start_worker: WorkerFactory, tmp_path: Path
) -> None:
    first = start_worker()
    submission = asyncio.create_task(
        submit_all(settings, small_photos(tmp_path / "in", 30), tmp_path / "out")
    )
    await read_topic(settings, settings.topics.completed, until=lambda rs: len(rs) >= 5)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0  # a clean exit
    start_worker()
    await assert_exactly_once(settings, await submission, 30)


async def test_broker_restart_during_a_run_loses_nothing(
    tmp_path: Path, start_worker: WorkerFactory
) -> None:
    own = embedded_settings(tmp_path / "state")  # durable: the broker's log in files
    stack = EmbeddedStack(own)
    await stack.start()
    try:
        settings = private_topics(own)
        await ensure_topics(settings, settings.all_topics)
        worker = start_worker(settings)
        submission = asyncio.create_task(
            submit_all(settings, small_photos(tmp_path / "in", 30), tmp_path / "out")
        )
        await read_topic(settings, settings.topics.completed, until=lambda rs: len(rs) >= 5)
        await stack.restart("kafka", downtime_s=2)
        await assert_exactly_once(settings, await submission, 30)
        assert worker.stop(timeout=30) == 0  # and it still shuts down cleanly
    finally:
        stack.stop()


async def test_s3_outage_is_retried_and_the_requests_succeed(
    tmp_path: Path, start_worker: WorkerFactory
) -> None:
    own = embedded_settings(tmp_path / "state", stack={"kafka_storage": "memory"})
    stack = EmbeddedStack(own)
    await stack.start()
    try:
        settings = private_topics(own, retry_delays_s=[2.0, 4.0, 8.0])
        await ensure_topics(settings, settings.all_topics)
        worker = start_worker(settings)
        submission = asyncio.create_task(
            submit_all(settings, small_photos(tmp_path / "in", 20), tmp_path / "out")
        )
        await read_topic(settings, settings.topics.completed, until=lambda rs: len(rs) >= 3)
        await stack.restart("s3", downtime_s=4)
        outcomes = await submission
        await assert_exactly_once(settings, outcomes, 20)
        retried = [
            o
            for o in outcomes
            if isinstance(o.event, ImageCompleted) and o.event.payload.attempts > 1
        ]
        assert retried, "the outage should have sent some requests through a retry topic"
        assert worker.stop(timeout=30) == 0
    finally:
        stack.stop()


async def test_the_whole_stack_killed_mid_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """SIGKILL to every process (broker, its log store, S3 server, worker) while
    requests are queued and running; after a restart each request finishes once, with one
    result, and what the worker had committed is not run again."""
    own = embedded_settings(tmp_path / "state")  # durable: the broker's log in files
    settings = private_topics(own)
    sources = small_photos(tmp_path / "in", 30)
    stack = EmbeddedStack(own)
    await stack.start()
    worker = start_service(settings, "worker", tmp_path)
    try:
        await ensure_topics(settings, settings.all_topics)
        async with Client(settings, S3ObjectStore(settings)) as client:
            ids = [(await client.submit(path)).request_id for path in sources]
        await read_topic(settings, settings.topics.completed, until=lambda rs: len(rs) >= 6)
        for process in [worker, *stack.processes]:
            process.send_signal(signal.SIGKILL)
        for process in [worker, *stack.processes]:
            assert process.wait(timeout=10) == -signal.SIGKILL
        stack.processes.clear()

        stack = EmbeddedStack(own)
        await stack.start()
        worker = start_service(settings, "worker", tmp_path)
        jobs = JobStore(S3ObjectStore(settings), settings.s3.jobs_bucket)
        deadline = asyncio.get_running_loop().time() + 240
        while True:
            records = [await jobs.get("default", request_id) for request_id in ids]
            if all(r is not None and r.status.finished for r in records):
                break
            assert asyncio.get_running_loop().time() < deadline, [
                r.status if r else None for r in records
            ]
            await asyncio.sleep(1)
        for record in records:
            assert record is not None
            assert record.status is JobStatus.SUCCEEDED
            assert record.attempts <= 2  # at most the one redelivery of what was in flight
        for request_id, event_ids in (await completed_events(settings, 30)).items():
            assert len(event_ids) == 1, f"{request_id} got different results: {event_ids}"
        republished = worker.log_tail(2000).count("republishing its result")
        assert republished <= 10, f"{republished} finished requests were delivered again"
    finally:
        worker.stop(30)
        stack.stop()
    logged = error_lines(own.state_dir / "logs", {})  # not even for the cut transfers
    assert logged == {name: [] for name in SERVER_LOGS}
