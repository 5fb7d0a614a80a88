"""The webhook notifier against a real HTTP receiver on loopback, on the real stack."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from standardwebhooks import Webhook

from schemas.events import ImageRequested, OutputInfo
from schemas.jobs import JobRecord
from schemas.options import RemovalOptions
from streams.client import Client
from streams.config.settings import Settings
from streams.notifier.signing import verify
from streams.stack import ensure_topics
from streams.storage import jobs
from streams.storage.jobs import JobStore
from streams.storage.s3 import S3ObjectStore
from streams.worker.results import completed_event
from tests.httpserver import Handler, Server, serve
from tests.images import photo_jpeg
from tests.integration.conftest import WorkerFactory, private_topics
from tests.integration.kafka import BIG, produce_raw, read_topic
from tests.integration.support import cutstream

pytestmark = pytest.mark.integration


class Receiver:
    """Scripted answers per path; every request is kept."""

    def __init__(self) -> None:
        self.script: dict[str, list[Callable[[Handler], None]]] = defaultdict(list)
        self.server: Server | None = None

    def answers(self, path: str, *answers: Callable[[Handler], None]) -> str:
        self.script[path] = list(answers)
        assert self.server is not None
        return self.server.url + path

    def route(self, handler: Handler) -> None:
        path = handler.path.split("?", 1)[0]
        queue = self.script[path]
        answer = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else status(200))
        answer(handler)

    def hits(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        assert self.server is not None
        return [
            (h, b) for method, p, h, b in self.server.requests if p == path and method == "POST"
        ]


def status(code: int, headers: dict[str, str] | None = None) -> Callable[[Handler], None]:
    return lambda handler: handler.reply(code, b"", headers)


def slow(seconds: float) -> Callable[[Handler], None]:
    def answer(handler: Handler) -> None:
        time.sleep(seconds)
        handler.reply(200)

    return answer


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve({}, fallback=receiver.route) as server:
        receiver.server = server
        yield receiver


async def seed_completed(
    settings: Settings, request_id: str, webhook_url: str, fmt: str = "native"
) -> JobRecord:
    """A finished request with an output, as the processor leaves it; its completed
    event on the topic."""
    store = S3ObjectStore(settings)
    key = f"default/{request_id}.png"
    await asyncio.to_thread(store.put, settings.s3.output_bucket, key, b"\x89PNG fake", "image/png")
    request = ImageRequested.model_validate(
        {
            "request_id": request_id,
            "payload": {
                "input": {"bucket": settings.s3.input_bucket, "key": "x.jpg"},
                "webhook_url": webhook_url,
                "webhook_format": fmt,
            },
        }
    )
    output = OutputInfo(
        bucket=settings.s3.output_bucket,
        key=key,
        content_type="image/png",
        size_bytes=9,
        width=1,
        height=1,
    )
    record = jobs.attempt_started(jobs.accepted(request), "test")
    record = jobs.succeeded(record, [output], f"evt-{request_id}")
    await JobStore(store, settings.s3.jobs_bucket).put(record)
    event = completed_event(record)
    await produce_raw(settings, settings.topics.completed, [event.model_dump_json().encode()])
    return record


async def job(settings: Settings, request_id: str) -> JobRecord:
    record = await JobStore(S3ObjectStore(settings), settings.s3.jobs_bucket).get(
        "default", request_id
    )
    assert record is not None
    return record


async def until(condition: Callable[[], Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


async def test_delivered_once_per_event_with_a_valid_signature(
    settings: Settings, start_worker: WorkerFactory, receiver: Receiver
) -> None:
    start_worker(settings, "notifier")
    url = receiver.answers("/hook", status(200))
    record = await seed_completed(settings, "r-sig", url)
    # The processor may republish a result (a redelivery): still one notification.
    await produce_raw(
        settings, settings.topics.completed, [completed_event(record).model_dump_json().encode()]
    )

    async def delivered() -> bool:
        return any(d.outcome == "delivered" for d in (await job(settings, "r-sig")).deliveries)

    await until(delivered)
    await asyncio.sleep(2)  # time for a duplicate to arrive, if there were one
    ((headers, body),) = receiver.hits("/hook")
    secrets_ = [s.get_secret_value() for s in settings.webhooks.secrets]
    verify(body, headers, secrets_)
    Webhook(secrets_[0]).verify(body, dict(headers))
    assert headers["webhook-id"] == completed_event(record).event_id
    payload = json.loads(body)
    assert payload["type"] == "image.completed"
    assert payload["data"]["request_id"] == "r-sig"
    async with httpx.AsyncClient() as client:  # the presigned output URL works
        assert (await client.get(payload["data"]["output_url"])).content == b"\x89PNG fake"


async def test_records_larger_than_the_producer_limit_never_stop_the_notifier(
    settings: Settings, start_worker: WorkerFactory, receiver: Receiver
) -> None:
    start_worker(settings, "notifier")
    junk = b"j" * BIG
    await produce_raw(settings, settings.topics.completed, [junk])
    await produce_raw(settings, settings.topics.webhook_deliveries, [junk])
    due_now = {"cutstream-attempt": b"1", "cutstream-not-before": b"0"}
    await produce_raw(settings, settings.webhook_retry_topics[0], [junk], headers=due_now)
    url = receiver.answers("/after", status(200))
    await seed_completed(settings, "r-after", url)

    async def delivered() -> bool:
        return bool(receiver.hits("/after"))

    await until(delivered)  # the plan, deliver and retry agents all moved past the junk
    letters = await read_topic(
        settings, settings.topics.webhook_dead_letter, until=lambda rs: len(rs) >= 3
    )
    assert {letter["source_topic"] for letter in letters} == {
        settings.topics.completed,
        settings.topics.webhook_deliveries,
        settings.webhook_retry_topics[0],
    }
    for letter in letters:
        assert letter["reason"] == "handler_error"
        assert letter["original_truncated"] is True
        assert letter["original_size_bytes"] == BIG
        assert len(json.dumps(letter)) < settings.kafka.max_message_bytes


async def test_fails_twice_then_succeeds_three_attempts_recorded(
    settings: Settings, start_worker: WorkerFactory, receiver: Receiver
) -> None:
    start_worker(settings, "notifier")
    url = receiver.answers("/flaky", status(500), status(502), status(200))
    await seed_completed(settings, "r-flaky", url)

    async def settled() -> bool:
        return any(d.outcome == "delivered" for d in (await job(settings, "r-flaky")).deliveries)

    await until(settled)
    deliveries = (await job(settings, "r-flaky")).deliveries
    assert [(d.attempt, d.status_code, d.outcome) for d in deliveries] == [
        (1, 500, "retrying"),
        (2, 502, "retrying"),
        (3, 200, "delivered"),
    ]
    assert len({h["webhook-id"] for h, _ in receiver.hits("/flaky")}) == 1  # stable id
    assert len(receiver.hits("/flaky")) == 3


async def test_gone_disables_the_endpoint(
    settings: Settings, start_worker: WorkerFactory, receiver: Receiver
) -> None:
    start_worker(settings, "notifier")
    url = receiver.answers("/gone", status(410))
    await seed_completed(settings, "r-gone-1", url)

    async def disabled() -> bool:
        return any(
            d.outcome == "endpoint_disabled" for d in (await job(settings, "r-gone-1")).deliveries
        )

    await until(disabled)
    await seed_completed(settings, "r-gone-2", url)

    async def skipped() -> bool:
        return bool((await job(settings, "r-gone-2")).deliveries)

    await until(skipped)
    await asyncio.sleep(2)  # would-be retries have had their chance
    assert len(receiver.hits("/gone")) == 1
    assert [d.outcome for d in (await job(settings, "r-gone-2")).deliveries] == ["skipped_disabled"]


async def test_a_redirect_is_not_followed(
    settings: Settings, start_worker: WorkerFactory, receiver: Receiver
) -> None:
    start_worker(settings, "notifier")
    target = receiver.answers("/elsewhere", status(200))
    url = receiver.answers("/moved", status(302, {"Location": target}))
    await seed_completed(settings, "r-moved", url)

    async def first_attempt() -> bool:
        return bool((await job(settings, "r-moved")).deliveries)

    await until(first_attempt)
    first = (await job(settings, "r-moved")).deliveries[0]
    assert (first.status_code, first.outcome) == (302, "retrying")
    assert receiver.hits("/elsewhere") == []


async def test_a_slow_receiver_times_out_and_is_retried(
    settings: Settings, start_worker: WorkerFactory, receiver: Receiver
) -> None:
    start_worker(settings, "notifier")
    url = receiver.answers("/slow", slow(3), status(200))
    await seed_completed(settings, "r-slow", url)

    async def delivered() -> bool:
        return any(d.outcome == "delivered" for d in (await job(settings, "r-slow")).deliveries)

    await until(delivered)
    first, second = (await job(settings, "r-slow")).deliveries[:2]
    assert first.status_code is None
    assert "no answer within 1 s" in (first.error or "")
    assert second.outcome == "delivered"


async def test_exhausted_deliveries_are_dead_lettered_with_an_event(
    settings: Settings, start_worker: WorkerFactory, receiver: Receiver
) -> None:
    start_worker(settings, "notifier")
    url = receiver.answers("/down", status(500))
    await seed_completed(settings, "r-down", url)

    events = await read_topic(settings, settings.topics.webhook_events, until=lambda rs: bool(rs))
    assert events[0]["type"] == "webhook.exhausted"
    assert events[0]["payload"]["attempts"] == 4  # 1 + 3 retries
    letters = await read_topic(
        settings, settings.topics.webhook_dead_letter, until=lambda rs: bool(rs)
    )
    assert letters[0]["reason"] == "webhook_exhausted"
    assert letters[0]["error"]["code"] == "webhook_failed"
    assert len(receiver.hits("/down")) == 4

    # The receiver is fixed: `cutstream dlq replay --webhooks` delivers it, once.
    receiver.answers("/down", status(200))
    replayed = cutstream(settings, "dlq", "replay", "--webhooks", "--request-id", "r-down")
    assert replayed.returncode == 0, replayed.stderr
    await until(lambda: _hits_at_least(receiver, "/down", 5))
    first, last = receiver.hits("/down")[0], receiver.hits("/down")[-1]
    assert last[0]["webhook-id"] == first[0]["webhook-id"]  # the same webhook, redelivered
    again = cutstream(settings, "dlq", "replay", "--webhooks", "--request-id", "r-down")
    assert again.returncode == 1
    assert "already_replayed" in again.stderr


async def _hits_at_least(receiver: Receiver, path: str, count: int) -> bool:
    return len(receiver.hits(path)) >= count


async def test_loopback_is_refused_without_the_development_setting(
    stack_settings: Settings, start_worker: WorkerFactory, receiver: Receiver
) -> None:
    settings = private_topics(stack_settings)
    settings = settings.model_copy(
        update={"urls": settings.urls.model_copy(update={"allow_loopback": False})}
    )
    await ensure_topics(settings, settings.all_topics)
    start_worker(settings, "notifier")
    url = receiver.answers("/internal", status(200))
    await seed_completed(settings, "r-internal", url)

    letters = await read_topic(
        settings, settings.topics.webhook_dead_letter, until=lambda rs: bool(rs)
    )
    assert letters[0]["reason"] == "webhook_refused"
    assert letters[0]["error"]["code"] == "url_not_allowed"
    assert receiver.hits("/internal") == []
    assert [d.outcome for d in (await job(settings, "r-internal")).deliveries] == ["refused"]


async def test_end_to_end_submit_with_a_webhook(
    settings: Settings, start_worker: WorkerFactory, receiver: Receiver, tmp_path: Path
) -> None:
    start_worker(settings)
    start_worker(settings, "notifier")
    url = receiver.answers("/done", status(200))
    image = tmp_path / "cup.jpg"
    image.write_bytes(photo_jpeg("coffee"))
    async with Client(settings, S3ObjectStore(settings)) as client:
        (outcome,) = await client.submit_files(
            [image], tmp_path / "out", RemovalOptions(), timeout=180, webhook_url=url
        )

    async def notified() -> bool:
        return bool(receiver.hits("/done"))

    await until(notified)
    ((headers, body),) = receiver.hits("/done")
    verify(body, headers, [s.get_secret_value() for s in settings.webhooks.secrets])
    data = json.loads(body)["data"]
    assert data["request_id"] == outcome.request_id
    async with httpx.AsyncClient() as http:
        png = (await http.get(data["output_url"])).content
    with Image.open(io.BytesIO(png)) as cutout:
        assert cutout.mode == "RGBA"
