"""Records on the requests topic that are not requests this worker can run.

Each is dead-lettered (reason ``unparseable``, ``invalid_request`` or
``unsupported_version``). When its request id, account and trace id can be read, the
request also fails visibly: a failed job record (so a poller is answered) and an
``image.failed`` event carrying the trace id — unless that request id already has a job,
whose one result stands.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas.errors import ErrorCode
from schemas.events import (
    SCHEMA_VERSION,
    DeadLetter,
    DeadLetterReason,
    ErrorInfo,
    ImageFailed,
    is_key_safe,
    result_event_id,
)
from streams import metrics
from streams.messaging.records import Record, clip, dead_letter
from streams.storage import jobs
from streams.storage.jobs import JobStore
from streams.worker.results import failed_event

log = logging.getLogger(__name__)

_MAX_TRACE_ID = 256


@dataclass(frozen=True)
class Probe:
    """What can be read of a record before (or without) validating it."""

    request_id: str | None = None
    account: str | None = None
    trace_id: str | None = None
    schema_version: int | None = None

    @classmethod
    def of(cls, value: bytes) -> Probe:
        """The usable envelope fields of ``value``: each only if it is valid by itself."""
        try:
            candidate = json.loads(value)
        except (ValueError, RecursionError):  # not JSON, or nested past any request's depth
            return cls()
        if not isinstance(candidate, dict):
            return cls()
        request_id = _text(candidate.get("request_id"))
        account = _text(candidate.get("account", "default"))
        trace_id = candidate.get("trace_id")
        version = candidate.get("schema_version")
        return cls(
            request_id=request_id if request_id and is_key_safe(request_id) else None,
            account=account if account and is_key_safe(account) else None,
            trace_id=trace_id
            if isinstance(trace_id, str) and 0 < len(trace_id) <= _MAX_TRACE_ID
            else None,
            schema_version=version if type(version) is int else None,
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Rejection:
    """A failed event and the dead letter for a rejected record."""

    failed: ImageFailed | None
    dead_letter: DeadLetter


class Rejects:
    """Turns rejected records into dead letters, failed records and failed events."""

    def __init__(self, jobs_store: JobStore, max_message_bytes: int) -> None:
        self.jobs = jobs_store
        self.max_message_bytes = max_message_bytes

    async def unsupported(self, record: Record, probe: Probe) -> Rejection:
        message = (
            f"schema_version {probe.schema_version} is not supported: this worker reads "
            f"version {SCHEMA_VERSION} (and the fields it does not know, in any version 1 event)"
        )
        return await self._reject(record, "unsupported_version", message, probe)

    async def invalid(self, record: Record, exc: ValidationError, probe: Probe) -> Rejection:
        details = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(message)'}: {e['msg']}" for e in exc.errors()[:10]
        )
        reason: DeadLetterReason = "invalid_request" if probe.request_id else "unparseable"
        return await self._reject(record, reason, f"{reason}: {details}", probe)

    async def _reject(
        self, record: Record, reason: DeadLetterReason, message: str, probe: Probe
    ) -> Rejection:
        error = ErrorInfo(code=ErrorCode.INVALID_REQUEST, message=clip(message))
        log.warning("dead-lettering %s at %s: %s", reason, record.where, error.message)
        metrics.DEAD_LETTERS.labels(reason=reason).inc()
        metrics.REQUESTS.labels(outcome="failed", code=str(ErrorCode.INVALID_REQUEST)).inc()
        letter = dead_letter(
            record,
            reason,
            error,
            max_message_bytes=self.max_message_bytes,
            request_id=probe.request_id,
            account=probe.account,
            trace_id=probe.trace_id,
        )
        if probe.request_id is None or probe.account is None:
            return Rejection(None, letter)
        if await self.jobs.get(probe.account, probe.request_id) is not None:
            log.warning(
                "request id %s/%s is taken; only the dead letter records this record",
                probe.account,
                probe.request_id,
            )
            return Rejection(None, letter)
        event_id = result_event_id(probe.account, probe.request_id, "failed")
        rejected = jobs.rejected(probe.request_id, probe.account, probe.trace_id, error, event_id)
        await self.jobs.put(rejected)
        return Rejection(failed_event(rejected), letter)
