"""The webhook notifier's work, independent of Faust.

``Notifier.plan`` turns a result event into a delivery task (when its request asked for a
webhook and none is under way); ``Notifier.attempt`` makes one signed delivery and decides
what comes next. The policy:

- only 2xx is success; redirects are never followed (a 3xx is a failure);
- 410 Gone disables the endpoint: no further attempts, now or for later results;
- 429 and 503 honour ``Retry-After`` (seconds or an HTTP date, capped);
- anything else — other statuses, timeouts, connection errors — is retried on the
  schedule, then the delivery is exhausted: a dead letter and a ``webhook.exhausted``;
- a URL the guard refuses at delivery time is never called: exhausted at once.

Every attempt is appended to the request's job record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx

from schemas.batches import BatchCompleted
from schemas.errors import CutstreamError, ErrorCode
from schemas.events import (
    RESULT_EVENTS,
    DeadLetter,
    DeadLetterError,
    ImageCompleted,
    ImageFailed,
)
from schemas.webhooks import (
    DeliveryAttempt,
    DeliveryOutcome,
    DeliveryTask,
    WebhookExhausted,
    WebhookExhaustedPayload,
    WebhookFormat,
)
from streams import metrics
from streams.config.settings import WebhookSettings
from streams.messaging.locks import KeyedLocks
from streams.messaging.records import Record, dead_letter
from streams.net.headers import retry_after_s
from streams.net.urlguard import UrlNotAllowedError, UrlPolicy, UrlUnresolvableError, resolve
from streams.notifier.payloads import Payloads
from streams.notifier.signing import signed_headers
from streams.storage.base import ObjectStore
from streams.storage.batches import BatchStore
from streams.storage.jobs import JobStore
from streams.storage.layout import disabled_webhook_key

log = logging.getLogger(__name__)

_RETRY_AFTER_STATUSES = frozenset({429, 503})


_RECORDED_AS: dict[str, DeliveryOutcome] = {
    "delivered": "delivered",
    "retry": "retrying",
    "disable": "endpoint_disabled",
    "exhausted": "exhausted",
}


@dataclass(frozen=True)
class Decision:
    """What follows an attempt."""

    outcome: Literal["delivered", "retry", "disable", "exhausted"]
    delay_s: float | None = None


def decide(
    status: int | None, retry_after: str | None, attempt: int, settings: WebhookSettings
) -> Decision:
    """The policy, for attempt number ``attempt`` (1-based) that got ``status``
    (``None``: no answer)."""
    if status is not None and 200 <= status < 300:
        return Decision("delivered")
    if status == 410:
        return Decision("disable")
    if attempt > len(settings.retry_delays_s):
        return Decision("exhausted")
    delay = settings.retry_delays_s[attempt - 1]
    if status in _RETRY_AFTER_STATUSES:
        asked = retry_after_s(retry_after)
        if asked is not None:
            delay = min(asked, settings.max_retry_after_s)
    return Decision("retry", delay)


@dataclass(frozen=True)
class AttemptResult:
    """One attempt's record and what to publish after it."""

    record: DeliveryAttempt
    retry_delay_s: float | None = None
    exhausted: WebhookExhausted | None = None


class Notifier:
    """Plans and makes webhook deliveries. One per process; attempts run concurrently."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        jobs_store: JobStore,
        batches: BatchStore,
        payloads: Payloads,
        settings: WebhookSettings,
        policy: UrlPolicy,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.store = store
        self.payloads = payloads
        self.jobs = jobs_store
        self.batches = batches
        self.settings = settings
        self.policy = policy
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_s), follow_redirects=False
        )
        self._plan_locks = KeyedLocks()

    async def plan(self, value: bytes) -> DeliveryTask | None:
        """The delivery a result event calls for, or ``None`` (no webhook requested, or a
        delivery for this result already started — a republished result does not notify
        twice). A malformed event raises :class:`pydantic.ValidationError` (the agent
        dead-letters it).

        The start is recorded in the job record before the task is returned. Results are
        keyed by request id, so one notifier process sees all copies of a request's result;
        a lock per request makes its check-then-record atomic within the process.
        """
        result = RESULT_EVENTS.validate_json(value)
        async with self._plan_locks.hold((result.account, result.request_id)):
            return await self._plan(result)

    async def _plan(self, result: ImageCompleted | ImageFailed) -> DeliveryTask | None:
        record = await self.jobs.get(result.account, result.request_id)
        if record is None or record.request is None or record.request.webhook_url is None:
            return None
        if result.event_id in record.webhooks_planned:
            return None
        planned = [*record.webhooks_planned, result.event_id]
        await self.jobs.put(record.model_copy(update={"webhooks_planned": planned}))
        return DeliveryTask(
            webhook_id=result.event_id,
            url=str(record.request.webhook_url),
            format=WebhookFormat(record.request.webhook_format),
            result=result,
        )

    async def plan_batch(self, value: bytes) -> DeliveryTask | None:
        """The delivery a ``batch.completed`` calls for, or ``None`` (the batch asked for no
        webhook, or its delivery was planned before: a marker object created only if
        absent, so a republished event does not notify twice)."""
        event = BatchCompleted.model_validate_json(value)
        record = await self.batches.get(event.account, event.batch_id)
        if record is None or record.spec.webhook_url is None:
            return None
        if not await self.batches.mark_webhook_planned(event.account, event.batch_id):
            return None
        return DeliveryTask(
            webhook_id=event.event_id,
            url=str(record.spec.webhook_url),
            format=WebhookFormat.NATIVE,
            result=event,
        )

    async def attempt(self, task: DeliveryTask, attempt: int) -> AttemptResult:
        """Make delivery attempt ``attempt`` (1-based) of ``task``."""
        result = task.result
        if await self._disabled(task.url):
            skipped = self._record(
                task, attempt, "skipped_disabled", error="endpoint disabled (410)"
            )
            await self._append(result, skipped)
            return AttemptResult(skipped)
        record = (
            None
            if isinstance(result, BatchCompleted)
            else await self.jobs.get(result.account, result.request_id)
        )
        body = self.payloads.body(task, record)
        secrets_ = self.settings.secrets_for(result.account, task.url)
        headers = {
            **signed_headers(secrets_, task.webhook_id, body),
            "content-type": "application/json",
            "user-agent": "cutstream-webhooks/1",
        }
        started = time.perf_counter()
        status: int | None = None
        retry_after: str | None = None
        error: str | None = None
        try:
            target = await resolve(task.url, self.policy)
            response = await self.client.post(
                target.pinned_url(),
                content=body,
                headers={**headers, "host": target.host_header},
                extensions={"sni_hostname": target.host},
            )
            status = response.status_code
            retry_after = response.headers.get("retry-after")
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except UrlNotAllowedError as exc:
            return await self._refused(task, attempt, exc)
        except UrlUnresolvableError as exc:
            error = exc.message
        except httpx.TimeoutException:
            error = f"no answer within {self.settings.timeout_s:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        latency = (time.perf_counter() - started) * 1000
        decision = decide(status, retry_after, attempt, self.settings)
        metrics.WEBHOOK_ATTEMPTS.labels(outcome=decision.outcome).inc()
        outcome = _RECORDED_AS[decision.outcome]
        attempt_record = self._record(
            task, attempt, outcome, status, latency, error, decision.delay_s
        )
        await self._append(result, attempt_record)
        if decision.outcome == "disable":
            await self._disable(task.url)
        if decision.outcome == "exhausted":
            return AttemptResult(
                attempt_record, exhausted=self._exhausted(task, attempt, status, error)
            )
        return AttemptResult(attempt_record, retry_delay_s=decision.delay_s)

    def _record(
        self,
        task: DeliveryTask,
        attempt: int,
        outcome: DeliveryOutcome,
        status: int | None = None,
        latency_ms: float | None = None,
        error: str | None = None,
        next_in_s: float | None = None,
    ) -> DeliveryAttempt:
        return DeliveryAttempt(
            webhook_id=task.webhook_id,
            attempt=attempt,
            url=task.url,
            status_code=status,
            latency_ms=round(latency_ms, 1) if latency_ms is not None else None,
            outcome=outcome,
            error=error,
            next_attempt_in_s=next_in_s,
        )

    async def _append(
        self, result: ImageCompleted | ImageFailed | BatchCompleted, attempt: DeliveryAttempt
    ) -> None:
        """Append ``attempt`` to the job record (best effort: the record may be gone; a
        batch's attempts are in the logs and metrics only)."""
        if isinstance(result, BatchCompleted):
            log.info(
                "batch %s webhook attempt %d: %s", result.batch_id, attempt.attempt, attempt.outcome
            )
            return
        try:
            record = await self.jobs.get(result.account, result.request_id)
            if record is not None:
                deliveries = [*record.deliveries, attempt]
                await self.jobs.put(record.model_copy(update={"deliveries": deliveries}))
        except CutstreamError as exc:
            log.warning("could not record webhook attempt for %s: %s", result.request_id, exc)

    async def _refused(
        self, task: DeliveryTask, attempt: int, exc: UrlNotAllowedError
    ) -> AttemptResult:
        log.warning("webhook %s refused: %s", task.url, exc.message)
        metrics.WEBHOOK_ATTEMPTS.labels(outcome="refused").inc()
        record = self._record(task, attempt, "refused", error=exc.message)
        await self._append(task.result, record)
        exhausted = self._exhausted(task, attempt, None, exc.message, reason="url_refused")
        return AttemptResult(record, exhausted=exhausted)

    def _exhausted(
        self,
        task: DeliveryTask,
        attempts: int,
        status: int | None,
        error: str | None,
        reason: Literal["retries_exhausted", "url_refused"] = "retries_exhausted",
    ) -> WebhookExhausted:
        result = task.result
        return WebhookExhausted(
            request_id=task.subject,
            account=result.account,
            trace_id=task.trace_id,
            payload=WebhookExhaustedPayload(
                webhook_id=task.webhook_id,
                url=task.url,
                attempts=attempts,
                reason=reason,
                last_status_code=status,
                last_error=error,
            ),
        )

    # Disabled endpoints: one marker object per URL, shared by every notifier process.

    async def _disabled(self, url: str) -> bool:
        return await asyncio.to_thread(
            self.store.exists, self.jobs.bucket, disabled_webhook_key(url)
        )

    async def _disable(self, url: str) -> None:
        log.warning("webhook endpoint %s answered 410 Gone: disabled", url)
        marker = json.dumps({"url": url, "disabled_at": datetime.now(UTC).isoformat()})
        await asyncio.to_thread(
            self.store.put,
            self.jobs.bucket,
            disabled_webhook_key(url),
            marker.encode(),
            "application/json",
        )


def dead_letter_for(
    record: Record, task: DeliveryTask, exhausted: WebhookExhausted, max_message_bytes: int
) -> DeadLetter:
    """The dead letter recording an undeliverable webhook."""
    payload = exhausted.payload
    reason: Literal["webhook_exhausted", "webhook_refused"] = (
        "webhook_refused" if payload.reason == "url_refused" else "webhook_exhausted"
    )
    message = payload.last_error or f"HTTP {payload.last_status_code}"
    code = ErrorCode.URL_NOT_ALLOWED if reason == "webhook_refused" else ErrorCode.WEBHOOK_FAILED
    return dead_letter(
        record,
        reason,
        DeadLetterError(code=code, message=message),
        max_message_bytes=max_message_bytes,
        request_id=task.subject,
        account=task.result.account,
        trace_id=task.trace_id,
        attempts=payload.attempts,
    )
