"""The ledger's rules: admissions, windows, credits, refunds and replays — exact and
idempotent, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from schemas.events import ImageRequest, ImageRequested
from schemas.ledger import (
    AccountStatus,
    Command,
    CreateAccount,
    Grant,
    Plan,
    Refusal,
    Reply,
    Reserve,
    SetPlan,
    SetStatus,
    Settle,
    UsageEvent,
    Window,
)
from schemas.refs import UrlInput
from streams.ledger.book import AccountState, Book

PLANS = {
    "basic": Plan(per_minute=10, per_month=100),
    "daily": Plan(per_day=3),
    "per-usage": Plan(per_minute=600, draws_credits=True),
    "internal": Plan(),
}
START = datetime(2026, 11, 22, 10, 0, 5, tzinfo=UTC)

Applied = tuple[AccountState, Reply, list[UsageEvent]]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def apply(book: Book, state: AccountState | None, command: Command) -> Applied:
    """``book.apply`` for a command that leaves an account behind."""
    outcome = book.apply(state, command)
    assert outcome.state is not None
    return outcome.state, outcome.reply, outcome.events


def account(book: Book, plan: str = "basic", credits: int = 0) -> AccountState:
    state, reply, events = apply(
        book, None, CreateAccount(account="acme", plan=plan, credits=credits)
    )
    assert reply.ok
    assert [e.kind for e in events] == ["create"]
    return state


def reserve(book: Book, state: AccountState, rid: str, price: int = 1) -> Applied:
    return apply(book, state, Reserve(account="acme", request_id=rid, price=price))


def settle(
    book: Book, state: AccountState, rid: str, outcome: Literal["charge", "refund"]
) -> Applied:
    return apply(book, state, Settle(account="acme", request_id=rid, outcome=outcome))


def test_credits_are_held_then_charged_or_refunded(clock: Clock) -> None:
    book = Book(PLANS, clock=clock)
    state, reply, events = reserve(book, account(book, "per-usage", credits=25), "r-1", 10)
    assert (reply.ok, reply.credits_held, state.credits) == (True, 10, 15)
    assert [(e.kind, e.credits, e.balance) for e in events] == [("reserve", -10, 15)]
    charged, _, events = settle(book, state, "r-1", "charge")
    assert (charged.credits, [e.kind for e in events]) == (15, ["charge"])
    state, _, _ = reserve(book, charged, "r-2", 10)
    refunded, _, events = settle(book, state, "r-2", "refund")
    assert refunded.credits == 15
    assert [(e.kind, e.credits) for e in events] == [("refund", 10)]
    _, reply, _ = reserve(book, refunded, "r-3", 16)
    assert (reply.ok, reply.refusal) == (False, Refusal.INSUFFICIENT_CREDITS)


def test_exactly_as_many_admitted_as_the_credits_cover(clock: Clock) -> None:
    book = Book(PLANS, clock=clock)
    state = account(book, "per-usage", credits=50)
    admitted = 0
    for number in range(200):
        state, reply, _ = reserve(book, state, f"r-{number}")
        admitted += reply.ok
        clock.now += timedelta(milliseconds=100)
    assert (admitted, state.credits) == (50, 0)


def test_replays_change_nothing_and_get_the_first_answer(clock: Clock) -> None:
    book = Book(PLANS, clock=clock)
    state = account(book, "per-usage", credits=5)
    once, first, _ = reserve(book, state, "r-1", 2)
    again, second, events = reserve(book, once, "r-1", 2)
    assert (again, events, second.credits_held) == (once, [], first.credits_held)
    settled, _, _ = settle(book, once, "r-1", "refund")
    twice, _, events = settle(book, settled, "r-1", "refund")
    assert (twice.credits, events) == (5, [])
    grant = Grant(account="acme", credits=100)
    granted, _, _ = apply(book, twice, grant)
    regranted, _, events = apply(book, granted, grant)
    assert (regranted.credits, events) == (105, [])


def test_the_minute_limit_and_the_month_quota_roll_over(clock: Clock) -> None:
    book = Book(PLANS, clock=clock)
    state = account(book, "basic")
    for number in range(10):
        state, reply, _ = reserve(book, state, f"m-{number}")
        assert reply.ok
    _, refused, _ = reserve(book, state, "m-10")
    assert refused.refusal is Refusal.RATE_LIMITED
    assert refused.retry_after_s == 55  # the minute ends at 10:01:00
    assert refused.account is not None
    minute = next(u for u in refused.account.usage if u.window is Window.MINUTE)
    assert (minute.limit, minute.remaining) == (10, 0)
    clock.now += timedelta(seconds=55)  # the next minute
    for number in range(90):  # 90 more at one every 7 s: the month's quota ends at 100
        clock.now += timedelta(seconds=7)
        state, reply, _ = reserve(book, state, f"n-{number}")
        assert reply.ok, (number, reply)
    _, refused, _ = reserve(book, state, "over")
    assert refused.refusal is Refusal.QUOTA_EXHAUSTED
    clock.now += timedelta(days=30)
    assert reserve(book, state, "next-month")[1].ok


def test_a_daily_quota_resets_at_midnight_utc(clock: Clock) -> None:
    book = Book(PLANS, clock=clock)
    state = account(book, "daily")
    for number in range(3):
        state, _, _ = reserve(book, state, f"d-{number}")
    _, refused, _ = reserve(book, state, "d-3")
    assert refused.refusal is Refusal.QUOTA_EXHAUSTED
    assert refused.retry_after_s == 14 * 3600 - 5
    clock.now = datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC)
    assert reserve(book, state, "d-3")[1].ok


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (SetStatus(account="acme", status=AccountStatus.SUSPENDED), Refusal.SUSPENDED),
        (
            SetPlan(account="acme", plan="basic", subscription_end=START - timedelta(days=1)),
            Refusal.SUBSCRIPTION_EXPIRED,
        ),
    ],
)
def test_suspended_and_expired_accounts_are_refused(
    clock: Clock, change: Command, refusal: Refusal
) -> None:
    book = Book(PLANS, clock=clock)
    state, reply, _ = apply(book, account(book), change)
    assert reply.ok
    assert reserve(book, state, "r-1")[1].refusal is refusal


def test_unknown_accounts_and_plans(clock: Clock) -> None:
    book = Book(PLANS, clock=clock)
    unknown = book.apply(None, Reserve(account="acme", request_id="r-1", price=1)).reply
    assert unknown.refusal is Refusal.UNKNOWN_ACCOUNT
    reply = book.apply(None, CreateAccount(account="acme", plan="gold")).reply
    assert (reply.ok, reply.message) == (False, "no plan 'gold'")
    state = account(book)
    exists = book.apply(state, CreateAccount(account="acme", plan="basic")).reply
    assert (exists.ok, exists.message) == (False, "account acme exists")
    unreserved = book.apply(state, Settle(account="acme", request_id="kafka-1", outcome="charge"))
    assert (unreserved.events, unreserved.state) == ([], state)  # published to Kafka: nothing


def test_listed_accounts_exist_from_the_start(clock: Clock) -> None:
    book = Book(PLANS, {"default": "internal"}, clock=clock)
    outcome = book.apply(None, Reserve(account="default", request_id="r-1", price=1))
    assert outcome.reply.ok
    assert outcome.store
    assert outcome.state is not None
    assert outcome.state.plan == "internal"


def test_plans_without_credits_never_draw_them(clock: Clock) -> None:
    book = Book(PLANS, clock=clock)
    state, reply, _ = reserve(book, account(book, "internal"), "r-1", 10)
    assert (reply.ok, reply.credits_held, state.credits) == (True, 0, 0)


def _request(rid: str) -> ImageRequested:
    payload = ImageRequest(input=UrlInput.model_validate({"url": "https://example.com/a.jpg"}))
    return ImageRequested(request_id=rid, account="acme", payload=payload)


def test_admitted_requests_are_queued_holding_their_credits(clock: Clock) -> None:
    book = Book(PLANS, clock=clock)
    state = account(book, "per-usage", credits=3)
    command = Reserve(account="acme", request_id="r-1", price=2, request=_request("r-1"))
    admitted = book.apply(state, command, offset=7)
    assert admitted.forward is not None
    assert admitted.forward.payload.credits == 2
    assert admitted.store
    assert admitted.state is not None
    assert admitted.state.offset == 7
    refused = book.apply(admitted.state, command.model_copy(update={"request_id": "r-2"}), 8)
    assert refused.forward is None
    assert refused.reply.refusal is Refusal.INSUFFICIENT_CREDITS
    assert refused.store  # the offset is kept: a redelivered refusal stays refused


def test_a_redelivered_command_is_answered_again_and_changes_nothing(clock: Clock) -> None:
    book = Book(PLANS, clock=clock)
    state = account(book, "per-usage", credits=5)
    command = Reserve(account="acme", request_id="r-1", price=2, request=_request("r-1"))
    first = book.apply(state, command, offset=3)
    assert first.state is not None
    again = book.apply(first.state, command, offset=3)  # after a crash before the commit
    assert (again.store, again.events, again.reply.replayed) == (False, [], True)
    assert again.forward == first.forward  # it may not have gone out the first time
    assert again.reply.credits_held == 2
    settled = book.apply(first.state, Settle(account="acme", request_id="r-1", outcome="refund"), 4)
    assert settled.state is not None
    assert settled.state.credits == 5
    late = book.apply(settled.state, command, offset=3)
    assert (late.forward, late.events, late.reply.ok) == (None, [], True)  # settled: done
    copy = book.apply(settled.state, command, offset=9)  # the same command, twice on the topic
    assert (copy.forward, copy.events, copy.store) == (None, [], True)
    assert copy.state is not None
    assert copy.state.credits == 5
    clock.now += timedelta(minutes=2)
    refused_then = book.apply(settled.state, command.model_copy(update={"request_id": "x"}), 4)
    assert (refused_then.reply.ok, refused_then.reply.replayed, refused_then.forward) == (
        False,
        True,
        None,
    )


def test_daily_usage_counts_admissions_and_net_credits_for_thirty_days(clock: Clock) -> None:
    book = Book(PLANS, clock=clock)
    state = account(book, "per-usage", credits=100)
    state, _, _ = reserve(book, state, "a", price=5)
    state, _, _ = reserve(book, state, "b", price=5)
    clock.now = START + timedelta(days=1)
    state, _, _ = apply(book, state, Settle(account="acme", request_id="b", outcome="refund"))
    state, _, _ = reserve(book, state, "c", price=2)
    view = book.view(state)
    assert [(d.day.isoformat(), d.requests, d.credits) for d in view.daily] == [
        ("2026-11-22", 2, 5),  # the refund goes back to the day it was held
        ("2026-11-23", 1, 2),
    ]
    clock.now = START + timedelta(days=30)
    assert [d.day.isoformat() for d in book.view(state).daily] == ["2026-11-23"]
