"""Webhook policy decisions and the three payload shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import jsonschema
import pytest

from schemas.errors import ErrorCode
from schemas.events import ErrorInfo, ImageRequested, OutputInfo
from schemas.export import JSON_DIR
from schemas.webhooks import DeliveryTask, WebhookFormat
from streams.config.settings import Settings, WebhookSettings
from streams.net.headers import retry_after_s
from streams.net.urlguard import UrlPolicy
from streams.notifier.delivery import Notifier, decide
from streams.notifier.payloads import Payloads
from streams.storage import jobs
from streams.storage.batches import BatchStore
from streams.storage.jobs import JobStore
from streams.storage.memory import MemoryObjectStore
from streams.storage.s3 import S3ObjectStore
from streams.worker.results import completed_event, failed_event

HOOKS = WebhookSettings(retry_delays_s=[5, 300, 1800], max_retry_after_s=600)


@pytest.mark.parametrize(
    ("status", "retry_after", "attempt", "outcome", "delay"),
    [
        (200, None, 1, "delivered", None),
        (204, None, 4, "delivered", None),
        (410, None, 1, "disable", None),
        (500, None, 1, "retry", 5),
        (None, None, 2, "retry", 300),  # timeout / connection error
        (301, None, 1, "retry", 5),  # a redirect is a failure, not followed
        (404, None, 3, "retry", 1800),
        (500, None, 4, "exhausted", None),  # 3 retries used
        (429, "17", 1, "retry", 17),
        (503, "5000", 1, "retry", 600),  # capped
        (503, "soon", 1, "retry", 5),  # unparseable: the schedule
        (500, "17", 1, "retry", 5),  # Retry-After only honoured on 429/503
    ],
)
def test_policy(
    status: int | None, retry_after: str | None, attempt: int, outcome: str, delay: float | None
) -> None:
    decision = decide(status, retry_after, attempt, HOOKS)
    assert (decision.outcome, decision.delay_s) == (outcome, delay)


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert retry_after_s(header, now) == 90
    assert retry_after_s(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0


def record_and_task(fmt: WebhookFormat, succeeded: bool = True) -> tuple[Any, DeliveryTask]:
    request = ImageRequested.model_validate(
        {
            "request_id": "r-1",
            "account": "acme",
            "trace_id": "t-9",
            "payload": {
                "input": {"url": "https://images.example/shoe.jpg"},
                "options": {"format": "webp"},
                "webhook_url": "https://hooks.example/in",
                "webhook_format": fmt.value,
            },
        }
    )
    record = jobs.attempt_started(jobs.accepted(request), "w")
    if succeeded:
        output = OutputInfo(
            bucket="cutstream-outputs",
            key="acme/r-1.webp",
            content_type="image/webp",
            size_bytes=10,
            width=4,
            height=3,
        )
        record = jobs.succeeded(record, [output], "evt-1")
        result: Any = completed_event(record)
    else:
        error = ErrorInfo(code=ErrorCode.INVALID_IMAGE_FORMAT, message="not an image")
        record = jobs.failed(record, error, "evt-1")
        result = failed_event(record)
    task = DeliveryTask(
        webhook_id=result.event_id, url="https://hooks.example/in", format=fmt, result=result
    )
    return record, task


def notifier() -> Notifier:
    settings = Settings(s3={"endpoint": "https://files.example.com"})
    store = MemoryObjectStore()
    return Notifier(
        store=store,
        jobs_store=JobStore(store, "jobs"),
        batches=BatchStore(store, "jobs", "outputs"),
        payloads=Payloads(S3ObjectStore(settings), settings.outputs.url_expiry_s),
        settings=settings.webhooks,
        policy=UrlPolicy(),
    )


def test_native_payload() -> None:
    record, task = record_and_task(WebhookFormat.NATIVE)
    body = json.loads(notifier().payloads.body(task, record))
    assert body["type"] == "image.completed"
    data = body["data"]
    assert (data["request_id"], data["job_id"], data["status"]) == ("r-1", "r-1", "succeeded")
    assert data["output_url"].startswith(
        "https://files.example.com/cutstream-outputs/acme/r-1.webp?"
    )
    assert "X-Amz-Signature=" in data["output_url"]
    assert "X-Amz-Expires=86400" in data["output_url"]
    assert data["output"]["width"] == 4
    assert data["trace_id"] == "t-9"
    assert data["error"] is None


def test_jobs_payload_is_seed_003s_shape() -> None:
    record, task = record_and_task(WebhookFormat.JOBS)
    body = json.loads(notifier().payloads.body(task, record))
    assert set(body) == {"jobId", "status", "outputUrl", "completedAt"}
    assert (body["jobId"], body["status"]) == ("r-1", "completed")
    failed_record, failed_task = record_and_task(WebhookFormat.JOBS, succeeded=False)
    failed = json.loads(notifier().payloads.body(failed_task, failed_record))
    assert set(failed) == {"jobId", "status", "errorMessage", "completedAt"}
    assert (failed["status"], failed["errorMessage"]) == ("failed", "not an image")


def test_artworks_payload_is_seed_001s_artwork() -> None:
    record, task = record_and_task(WebhookFormat.ARTWORKS)
    body = json.loads(notifier().payloads.body(task, record))
    assert body["id"] == "r-1"
    assert body["artworkType"] == "remove_background"
    assert body["parameters"] == {
        "imageUrl": "https://images.example/shoe.jpg",
        "webhook": "https://hooks.example/in",
        "outputFormat": "webp",
    }
    assert body["status"] == "succeeded"
    assert len(body["results"]) == 1
    assert body["results"][0].startswith("https://files.example.com/")


def test_secrets_are_chosen_endpoint_then_account_then_default() -> None:
    a, b, c = ("whsec_" + letter * 32 for letter in "ABC")
    hooks = WebhookSettings(
        secrets=[a], account_secrets={"acme": [b]}, endpoint_secrets={"https://x/in": [c]}
    )
    assert hooks.secrets_for("acme", "https://x/in") == [c]
    assert hooks.secrets_for("acme", "https://y/in") == [b]
    assert hooks.secrets_for("other", "https://y/in") == [a]


async def test_a_batch_webhook_is_planned_once_with_the_completed_event() -> None:
    from schemas.batches import BatchCompleted, BatchCounts, BatchRecord, BatchSpec, BatchState

    hooks = notifier()
    hooks.store.ensure_bucket("jobs")
    spec = BatchSpec.model_validate(
        {
            "batch_id": "b1",
            "account": "acme",
            "source": {"kind": "prefix", "bucket": "inputs"},
            "webhook_url": "https://hooks.example/batches",
        }
    )
    await hooks.batches.create(BatchRecord(spec=spec))
    event = BatchCompleted(
        event_id="e1",
        batch_id="b1",
        account="acme",
        state=BatchState.COMPLETED,
        counts=BatchCounts(total=2, queued=2, succeeded=2),
        results_url="https://files.example.com/r.csv",
        results_key="acme/batches/b1/results.csv",
    )
    task = await hooks.plan_batch(event.model_dump_json().encode())
    assert task is not None
    assert (task.url, task.webhook_id, task.subject) == (
        "https://hooks.example/batches",
        "e1",
        "b1",
    )
    body = json.loads(hooks.payloads.body(task, None))
    assert body["type"] == "batch.completed"
    assert body["data"]["counts"]["succeeded"] == 2
    # The same event again (a replay) plans nothing.
    assert await hooks.plan_batch(event.model_dump_json().encode()) is None


@pytest.mark.parametrize("succeeded", [True, False])
@pytest.mark.parametrize(
    ("kind", "schema"),
    [
        (WebhookFormat.NATIVE, "webhook.native"),
        (WebhookFormat.JOBS, "webhook.jobs"),
        (WebhookFormat.ARTWORKS, "webhook.artworks"),
    ],
)
def test_every_body_validates_against_its_published_schema(
    kind: WebhookFormat, schema: str, succeeded: bool
) -> None:
    record, task = record_and_task(kind, succeeded=succeeded)
    body = json.loads(notifier().payloads.body(task, record))
    document = json.loads((JSON_DIR / f"{schema}.schema.json").read_text())
    jsonschema.Draft202012Validator(document).validate(body)
