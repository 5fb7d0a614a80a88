"""Delay tiers: retry topics with a fixed delay each, and the attempt count that travels
with a retried record.

A record enters tier N with two headers — its attempt count and the time it is due — and
the tier's agent forwards it, once due, to a *due* topic (the worker's
``<retry_prefix>.due``, the notifier's deliveries topic). Only those internal topics are
trusted to carry the attempt header: on a topic outside producers write to (the requests
topic) it is ignored, so nobody can skip the retries by setting it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import faust

from streams.messaging.inflight import UNACKED, PoisonHandler, handle_or_dead_letter
from streams.messaging.records import headers_of

ATTEMPT_HEADER = "cutstream-attempt"
NOT_BEFORE_HEADER = "cutstream-not-before"


def attempt_of(event: Any, trusted_topics: frozenset[str]) -> int:
    """Previous attempts recorded in the event's header; 0 when absent, malformed, or the
    event came from a topic that is not in ``trusted_topics``."""
    if event.message.topic not in trusted_topics:
        return 0
    value = headers_of(event).get(ATTEMPT_HEADER, b"0")
    return int(value) if value.isdigit() and len(value) < 6 else 0


def delay_headers(attempt: int, delay_s: float) -> dict[str, bytes]:
    """Headers for a record entering a delay tier."""
    return {
        ATTEMPT_HEADER: str(attempt).encode(),
        NOT_BEFORE_HEADER: f"{time.time() + delay_s:.3f}".encode(),
    }


def register_delay_tiers(
    app: faust.App, tiers: Sequence[Any], target: Any, name_prefix: str, poison: PoisonHandler
) -> None:
    """One agent per delay tier: wait until the head record is due, forward it to
    ``target`` with its attempt count, then ack. Each tier has one fixed delay, so its
    topic is in due order and waiting for the head never delays a record due earlier. A
    record that cannot be forwarded goes to ``poison``; either way it is acked."""
    for tier, topic in enumerate(tiers, start=1):
        _register_delay_tier(app, topic, target, f"{name_prefix}.{tier}", poison)


def _register_delay_tier(
    app: faust.App, topic: Any, target: Any, name: str, poison: PoisonHandler
) -> None:
    head: list[float] = []  # when the record being forwarded became due (monotonic)
    UNACKED.register(lambda: head[0] if head else None)

    async def forward(event: Any) -> None:
        headers = headers_of(event)
        try:
            due = float(headers.get(NOT_BEFORE_HEADER, b"0") or 0)
        except ValueError:
            due = 0.0
        wait = max(0.0, min(due - time.time(), 7 * 86400.0))
        head[:] = [time.monotonic() + wait]
        await asyncio.sleep(wait)
        await target.send(
            key=event.key,
            value=event.value,
            headers={ATTEMPT_HEADER: headers.get(ATTEMPT_HEADER, b"1")},
        )

    @app.agent(topic, name=name)
    async def agent(stream: Any) -> None:
        manual = stream.noack()
        async for event in manual.events():
            await handle_or_dead_letter(event, forward, poison)
            head.clear()
            await manual.ack(event)
