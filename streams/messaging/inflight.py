"""Consuming with several records in flight, acked in order, never stuck on one record.

Delivery guarantee (at-least-once). Faust acks an event when the agent moves past it, and
``take()`` acks a whole batch in a ``finally`` even when the agent is cancelled half way (a
SIGTERM). Agents here therefore take with ``noack_take`` and ack by hand: an event is acked
only after its handler has finished with it, and acks go strictly in arrival order, so the
committed offset never passes an event still in flight (faust #606 commits past a single
in-flight head message). Faust flushes its producer before it commits.

Poison. A handler that raises a transient error (Kafka or the store unreachable) runs again
after a backoff, for as long as it takes; any other error — a bug, a record that cannot be
read, an outcome larger than the producer allows — is dead-lettered (always small enough to
publish) and the record acked, so one bad record never holds back the offsets after it.
While a record waits, :data:`UNACKED` shows its age: ``/healthz`` turns unhealthy past
``runtime.max_unacked_age_s``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import faust
from aiokafka.errors import KafkaError, KafkaTimeoutError

from schemas.errors import DEAD_LETTER_CODES, CutstreamError, ErrorCode
from schemas.events import DeadLetterError
from streams import metrics
from streams.config.settings import Settings
from streams.messaging.records import Record, dead_letter, record_of

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]
PoisonHandler = Callable[[Any, Exception], Awaitable[None]]

_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class Unacked:
    """When the oldest record still unacknowledged in this process arrived, across every
    agent (each registers a function giving its own oldest, as ``time.monotonic()``)."""

    def __init__(self) -> None:
        self._sources: list[Callable[[], float | None]] = []

    def register(self, oldest: Callable[[], float | None]) -> None:
        self._sources.append(oldest)

    def oldest_age_s(self) -> float:
        """Seconds the oldest unacked record has waited (0 when there is none)."""
        now = time.monotonic()
        starts = [start for source in self._sources if (start := source()) is not None]
        return max(0.0, now - min(starts)) if starts else 0.0


UNACKED = Unacked()


@dataclass
class Waiting:
    """One agent's records taken from Kafka that wait for a slot (every slot busy)."""

    concurrency: int
    """How many records the agent runs at once: a full round."""
    count: int = 0


class Backlog:
    """The waiting records of the agents that report here. Their consumer fetches less
    often while one of them holds a full round: on a broker that answers a fetch only when
    its wait runs out (Tansu), every fetch costs the broker a pass over the consumer's
    partitions, and while records already wait here a new one would wait behind them
    anyway (:class:`streams.messaging.faustkit.FetchPace`)."""

    def __init__(self) -> None:
        self._agents: list[Waiting] = []

    def agent(self, concurrency: int) -> Waiting:
        """The counter of one more agent, running ``concurrency`` records at once."""
        waiting = Waiting(concurrency)
        self._agents.append(waiting)
        return waiting

    def full(self) -> bool:
        """Whether some agent holds a full round waiting (read from the consumer's thread:
        plain integers, each written by the event loop's thread only)."""
        return any(agent.count >= agent.concurrency for agent in self._agents)


def transient(exc: Exception) -> bool:
    """Whether running the handler again later may succeed (nothing is wrong with the
    record; something it needs is unreachable)."""
    if isinstance(exc, CutstreamError):
        return exc.retryable
    return isinstance(exc, KafkaTimeoutError) or (isinstance(exc, KafkaError) and exc.retriable)


class InOrderAcks:
    """Acks events in the order they arrived, each once everything before it is done.
    ``watched``: whether :data:`UNACKED` (so ``/healthz``) counts their wait."""

    def __init__(self, stream: Any, *, watched: bool = True) -> None:
        self.stream = stream
        self.pending: deque[tuple[Any, asyncio.Event, float]] = deque()
        self.lock = asyncio.Lock()
        if watched:
            UNACKED.register(self.oldest)

    def track(self, event: Any) -> asyncio.Event:
        done = asyncio.Event()
        self.pending.append((event, done, time.monotonic()))
        return done

    def oldest(self) -> float | None:
        return self.pending[0][2] if self.pending else None

    async def release(self) -> None:
        async with self.lock:
            while self.pending and self.pending[0][1].is_set():
                event, _, _ = self.pending.popleft()
                await self.stream.ack(event)


async def handle_or_dead_letter(event: Any, handle: Handler, poison: PoisonHandler) -> None:
    """Run ``handle`` until it succeeds or fails for good; then the record may be acked.
    Transient failures are retried with backoff (the record waits, unacked); a permanent
    one goes to ``poison``, itself retried while Kafka is unreachable."""
    attempt = 0
    while True:
        try:
            await handle(event)
            return
        except Exception as exc:
            if not transient(exc):
                log.exception("cannot handle %s; dead-lettering it", record_of(event).where)
                await _until_done(partial(poison, event, exc), record_of(event))
                return
            delay = _BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)]
            log.warning("%s: %s; trying again in %.1f s", record_of(event).where, exc, delay)
            await asyncio.sleep(delay)
            attempt += 1


async def _until_done(call: Callable[[], Awaitable[None]], record: Record) -> None:
    """Publish a dead letter, waiting out Kafka outages. A dead letter that cannot be
    published at all (it is built to fit, so only a bug gets here) is logged with the
    record's coordinates and hash, and the record is acked: nothing may stall the stream."""
    attempt = 0
    while True:
        try:
            await call()
            return
        except Exception as exc:
            if not transient(exc):
                digest = hashlib.sha256(record.value).hexdigest()
                log.critical("cannot dead-letter %s (sha256 %s): %r", record.where, digest, exc)
                return
            delay = _BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)]
            log.warning("cannot publish a dead letter yet (%s); again in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            attempt += 1


def dead_lettering(dead_letters: Any, settings: Settings) -> PoisonHandler:
    """A poison handler that publishes a ``handler_error`` dead letter to ``dead_letters``."""

    async def poison(event: Any, exc: Exception) -> None:
        record = record_of(event)
        await publish_dead_letter(dead_letters, record, exc, settings)

    return poison


async def publish_dead_letter(
    dead_letters: Any, record: Record, exc: Exception, settings: Settings
) -> None:
    """Publish the ``handler_error`` dead letter of ``record``."""
    code = exc.code if isinstance(exc, CutstreamError) else ErrorCode.INTERNAL_ERROR
    if code not in DEAD_LETTER_CODES:
        code = ErrorCode.INTERNAL_ERROR
    error = DeadLetterError(code=code, message=f"{type(exc).__name__}: {exc}")
    letter = dead_letter(
        record, "handler_error", error, max_message_bytes=settings.kafka.max_message_bytes
    )
    metrics.DEAD_LETTERS.labels(reason=letter.reason).inc()
    await dead_letters.send(key=record.key, value=letter.model_dump_json().encode())


async def process_in_flight(
    stream: Any,
    handle: Handler,
    poison: PoisonHandler,
    *,
    concurrency: int,
    max_batch: int,
    batch_window_s: float,
    shutdown_grace_s: float,
    on_batch: Callable[[Sequence[Any]], None] | None = None,
    watched: bool = True,
    waiting: Waiting | None = None,
) -> None:
    """Consume ``stream`` in batches with up to ``concurrency`` handlers in flight, acking
    each event once it is handled or dead-lettered, in arrival order; ``waiting`` (from
    :meth:`Backlog.agent`) is kept at the number of taken events waiting for a slot.

    On shutdown or rebalance, handlers in flight get ``shutdown_grace_s`` to finish; what
    is still running is not acked and goes back to the group. ``watched=False`` leaves the
    handlers' time out of ``/healthz``'s oldest-unacked age (for handlers that may rightly
    run for hours, such as planning a large batch).
    """
    manual = stream.noack()
    acks = InOrderAcks(manual, watched=watched)
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()

    async def run(event: Any, done: asyncio.Event) -> None:
        try:
            with metrics.IN_FLIGHT.track_inprogress():
                await handle_or_dead_letter(event, handle, poison)
            done.set()
        finally:
            slots.release()
        await acks.release()

    try:
        async for events in manual.noack_take(max_batch, within=batch_window_s):
            if on_batch is not None:
                on_batch(events)
            for index, event in enumerate(events):
                if waiting is not None:
                    waiting.count = len(events) - index
                await slots.acquire()
                task = asyncio.create_task(run(event, acks.track(event)))
                running.add(task)
                task.add_done_callback(running.discard)
            if waiting is not None:
                waiting.count = 0
    finally:
        if waiting is not None:
            waiting.count = 0
        if running:
            log.info("waiting up to %.0f s for %d in flight", shutdown_grace_s, len(running))
            await asyncio.wait(running, timeout=shutdown_grace_s)
        for task in list(running):  # unacked: handed back to the group, redone from there
            task.cancel()
        if running:
            await asyncio.wait(running)


def register_in_flight_agent(
    app: faust.App,
    topic: Any,
    name: str,
    handle: Handler,
    settings: Settings,
    *,
    concurrency: int,
    dead_letters: Any,
    on_batch: Callable[[Sequence[Any]], None] | None = None,
    watched: bool = True,
    shutdown_grace_s: float | None = None,
    backlog: Backlog | None = None,
) -> None:
    """An agent on ``topic`` that runs :func:`process_in_flight` with ``handle``, batching
    and grace periods from ``settings.runtime`` (or ``shutdown_grace_s``); what cannot be
    handled goes to ``dead_letters``; its waiting records count in ``backlog``."""
    poison = dead_lettering(dead_letters, settings)
    waiting = backlog.agent(concurrency) if backlog is not None else None

    @app.agent(topic, name=name)
    async def agent(stream: Any) -> None:
        await process_in_flight(
            stream,
            handle,
            poison,
            concurrency=concurrency,
            max_batch=settings.runtime.max_batch,
            batch_window_s=settings.runtime.batch_window_s,
            shutdown_grace_s=settings.runtime.shutdown_grace_s
            if shutdown_grace_s is None
            else shutdown_grace_s,
            on_batch=on_batch,
            watched=watched,
            waiting=waiting,
        )
