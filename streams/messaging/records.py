"""Consumed records, and the dead letters that hold the ones that cannot be handled.

A dead letter always fits under the producer's limit (``kafka.max_message_bytes``): the
original value is kept whole up to an eighth of it (JSON escaping can grow text six-fold,
base64 by a third), else its head with the full size and SHA-256; the key, the headers
and the error message are clipped too.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.events import DeadLetter, DeadLetterError, DeadLetterReason, Encoding, ErrorInfo

_MAX_KEY_BYTES = 1024
_MAX_HEADERS = 32
_MAX_HEADER_CHARS = 1024
_MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class Record:
    """A consumed record: what handlers and dead letters need of it."""

    value: bytes
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    headers: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


def headers_of(event: Any) -> dict[str, bytes]:
    """An event's headers as ``{name: bytes}``, whatever shape Faust handed them in."""
    raw = event.headers or {}
    items = raw.items() if isinstance(raw, Mapping) else raw
    return {str(k): (v if isinstance(v, bytes) else str(v).encode()) for k, v in items}


def record_of(event: Any) -> Record:
    """The :class:`Record` of a Faust event."""
    message = event.message
    key = event.key
    return Record(
        value=event.value or b"",
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=key if isinstance(key, bytes) or key is None else str(key).encode(),
        headers=headers_of(event),
    )


def _text(data: bytes) -> tuple[str, Encoding]:
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


def _head(value: bytes, keep: int) -> bytes:
    """The first ``keep`` bytes, one UTF-8 character shorter if the cut splits one (so a
    text head stays text)."""
    head = value[:keep]
    if len(value) > keep:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data":
                head = head[: exc.start]
    return head


def clip(text: str, limit: int = _MAX_MESSAGE_CHARS) -> str:
    """``text``, cut to ``limit`` characters with a mark saying so."""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more)"


def dead_letter(
    record: Record,
    reason: DeadLetterReason,
    error: ErrorInfo | DeadLetterError,
    *,
    max_message_bytes: int,
    request_id: str | None = None,
    account: str | None = None,
    trace_id: str | None = None,
    attempts: int = 0,
) -> DeadLetter:
    """The dead letter for ``record``; its JSON stays under ``max_message_bytes``."""
    head = _head(record.value, max(1024, max_message_bytes // 8))
    original, encoding = _text(head)
    key, key_encoding = _text(record.key[:_MAX_KEY_BYTES]) if record.key else (None, "utf-8")
    headers = {
        clip(name, 256): clip(value.decode("utf-8", "backslashreplace"), _MAX_HEADER_CHARS)
        for name, value in list(record.headers.items())[:_MAX_HEADERS]
    }
    return DeadLetter(
        reason=reason,
        error=DeadLetterError(
            code=error.code, message=clip(error.message), retryable=error.retryable
        ),
        request_id=request_id,
        account=account,
        trace_id=trace_id,
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        source_key=key,
        source_key_encoding=key_encoding,
        source_headers=headers,
        attempts=attempts,
        original=original,
        original_encoding=encoding,
        original_size_bytes=len(record.value),
        original_sha256=hashlib.sha256(record.value).hexdigest(),
        original_truncated=len(head) < len(record.value),
    )
