"""Handling a record: transient failures are tried again, permanent ones dead-lettered."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from streams.exceptions import StorageUnavailableError
from streams.messaging import inflight
from streams.messaging.inflight import handle_or_dead_letter, transient
from streams.messaging.tiers import ATTEMPT_HEADER, attempt_of


def event(topic: str = "requests", headers: dict[str, bytes] | None = None) -> Any:
    message = SimpleNamespace(topic=topic, partition=0, offset=1)
    return SimpleNamespace(value=b"v", key=b"k", headers=headers or {}, message=message)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inflight, "_BACKOFF_S", (0.0,))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (KafkaConnectionError(), True),
        (StorageUnavailableError("down"), True),
        (MessageSizeTooLargeError(), False),
        (ValueError("bug"), False),
    ],
)
def test_what_is_worth_trying_again(exc: Exception, expected: bool) -> None:
    assert transient(exc) is expected


async def test_transient_failures_run_the_handler_again_until_it_succeeds() -> None:
    calls: list[int] = []
    poisoned: list[Exception] = []

    async def handle(_: Any) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise KafkaConnectionError()

    async def poison(_: Any, exc: Exception) -> None:
        poisoned.append(exc)

    await handle_or_dead_letter(event(), handle, poison)
    assert (len(calls), poisoned) == (3, [])


async def test_a_permanent_failure_is_dead_lettered_once_even_through_an_outage() -> None:
    attempts: list[Exception] = []

    async def handle(_: Any) -> None:
        raise MessageSizeTooLargeError()

    async def poison(_: Any, exc: Exception) -> None:
        attempts.append(exc)
        if len(attempts) < 2:
            raise KafkaConnectionError()  # the dead-letter topic is unreachable at first

    await handle_or_dead_letter(event(), handle, poison)
    assert [type(exc) for exc in attempts] == [MessageSizeTooLargeError] * 2


async def test_a_dead_letter_that_cannot_be_published_does_not_stall_the_stream() -> None:
    async def handle(_: Any) -> None:
        raise ValueError("bug")

    async def poison(_: Any, exc: Exception) -> None:
        raise RuntimeError("also a bug")

    await handle_or_dead_letter(event(), handle, poison)  # returns: the record can be acked


def test_the_attempt_header_counts_only_on_trusted_topics() -> None:
    headers = {ATTEMPT_HEADER: b"3"}
    trusted = frozenset({"requests.retry.due"})
    assert attempt_of(event("requests.retry.due", headers), trusted) == 3
    assert attempt_of(event("requests", headers), trusted) == 0
    assert attempt_of(event("requests.retry.due", {ATTEMPT_HEADER: b"x"}), trusted) == 0


async def test_the_oldest_unacked_record_is_what_health_sees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    acked: list[Any] = []

    class Stream:
        async def ack(self, event: Any) -> None:
            acked.append(event)

    unacked = inflight.Unacked()
    monkeypatch.setattr(inflight, "UNACKED", unacked)
    acks = inflight.InOrderAcks(Stream())
    first, second = event(), event()
    first_done = acks.track(first)
    now[0] += 5
    second_done = acks.track(second)
    now[0] += 10
    assert unacked.oldest_age_s() == 15  # the first record has waited 15 s
    second_done.set()
    await acks.release()
    assert (acked, unacked.oldest_age_s()) == ([], 15)  # acks go in order: nothing yet
    first_done.set()
    await acks.release()
    assert (acked, unacked.oldest_age_s()) == ([first, second], 0)

    # Records whose handlers may rightly run for hours (planning a batch) are not watched.
    planning = inflight.InOrderAcks(Stream(), watched=False)
    planning.track(event())
    now[0] += 3600
    assert unacked.oldest_age_s() == 0


async def test_at_shutdown_what_outlives_the_grace_is_cancelled_and_left_unacked() -> None:
    import asyncio

    acked: list[Any] = []
    started = asyncio.Event()

    class Stream:
        def noack(self) -> Stream:
            return self

        async def ack(self, event: Any) -> None:
            acked.append(event)

        async def noack_take(self, size: int, within: float) -> Any:
            yield [event()]
            await asyncio.sleep(3600)  # no more records: the agent is stopped meanwhile

    cancelled = asyncio.Event()

    async def forever(_: Any) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def poison(_: Any, exc: Exception) -> None:
        raise AssertionError(exc)

    agent = asyncio.create_task(
        inflight.process_in_flight(
            Stream(),
            forever,
            poison,
            concurrency=1,
            max_batch=1,
            batch_window_s=0.1,
            shutdown_grace_s=0.05,
        )
    )
    await started.wait()
    agent.cancel()  # Faust stopping the agent
    await asyncio.wait_for(asyncio.gather(agent, return_exceptions=True), 2)
    assert cancelled.is_set()  # not left running behind a stopping service
    assert acked == []  # handed back to the group, not acked


class BatchStream:
    """A stream of one batch of events (what ``noack_take`` yields), acks recorded."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.acked: list[Any] = []

    def noack(self) -> BatchStream:
        return self

    async def noack_take(self, max_: int, within: float) -> Any:
        yield self.events

    async def ack(self, event: Any) -> None:
        self.acked.append(event)


async def test_records_waiting_for_a_slot_make_a_backlog_until_they_start() -> None:
    backlog = inflight.Backlog()
    waiting = backlog.agent(concurrency=2)
    stream = BatchStream([event() for _ in range(6)])
    release = asyncio.Event()

    async def handle(_: Any) -> None:
        await release.wait()

    async def poison(_: Any, exc: Exception) -> None:
        raise AssertionError(exc)

    consuming = asyncio.create_task(
        inflight.process_in_flight(
            stream,
            handle,
            poison,
            concurrency=2,
            max_batch=16,
            batch_window_s=0.01,
            shutdown_grace_s=1,
            waiting=waiting,
        )
    )
    for _ in range(20):
        await asyncio.sleep(0)
    # two run, the third waits for a slot with the three behind it
    assert (waiting.count, backlog.full()) == (4, True)
    release.set()
    await consuming
    assert (waiting.count, backlog.full()) == (0, False)
    assert stream.acked == stream.events


def test_a_backlog_is_full_once_some_agent_has_a_whole_round_waiting() -> None:
    backlog = inflight.Backlog()
    small, large = backlog.agent(concurrency=2), backlog.agent(concurrency=8)
    large.count = 7
    small.count = 1
    assert not backlog.full()
    small.count = 2
    assert backlog.full()
