"""The ledger's rules, as a pure function of an account's state and a command.

:meth:`Book.apply` returns what to store, the reply, the usage events and the request to
queue; the Faust agent around it (:mod:`streams.ledger.app`) only stores and publishes
them. One agent owns each account (commands are keyed by account), so admissions are
exact however many gateways ask.

Replays change nothing. The state keeps the offset of the last command it applied: a
command redelivered after a crash (its offset at or below that) gets its answer again —
an admitted reservation is queued again (the workers drop the copy), nothing is counted
or held twice. A command that reaches the topic twice (a producer retry) is recognised by
its request id (held or recently settled) or its command id.

Windows are fixed lengths aligned to the Unix epoch (a minute, a day, 30 days). A request
counts in every window of its plan when it is admitted; a refused request counts nowhere
and costs nothing; a refunded one gives its credits back (its count stays: it was made).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import ImageRequested, utc_now
from schemas.ledger import (
    DAYS_KEPT,
    AccountStatus,
    AccountView,
    Command,
    CreateAccount,
    DayUsage,
    Grant,
    Plan,
    Refusal,
    Reply,
    Reserve,
    SetPlan,
    SetStatus,
    Settle,
    Show,
    UsageEvent,
    Window,
    WindowUsage,
)

_KEEP_IDS = 64
"""Recently settled request ids and applied admin command ids remembered per account, to
recognise a command that reached the topic twice (copies are close together)."""

UsageKind = Literal["grant", "reserve", "charge", "refund", "plan", "status", "create"]


class Held(BaseModel):
    """What an admitted request holds until it is settled."""

    model_config = ConfigDict(frozen=True)

    credits: int
    at: datetime


class AccountState(BaseModel):
    """An account as its ledger stores it (a Faust table value)."""

    model_config = ConfigDict(frozen=True)

    name: str
    plan: str
    status: AccountStatus = AccountStatus.ACTIVE
    credits: int = 0
    subscription_end: datetime | None = None
    created_at: datetime
    updated_at: datetime
    counts: dict[Window, tuple[int, int]] = Field(
        default_factory=dict, description="window → (window index, requests counted in it)"
    )
    held: dict[str, Held] = Field(default_factory=dict, description="Admitted, not settled.")
    settled: list[str] = Field(default_factory=list, description="Recently settled ids.")
    applied: list[str] = Field(default_factory=list, description="Recent admin command ids.")
    offset: int = Field(default=-1, description="Offset of the last command applied.")
    daily: list[DayUsage] = Field(
        default_factory=list, description=f"Usage per UTC day, the last {DAYS_KEPT} days."
    )


@dataclass(frozen=True)
class Outcome:
    """What applying one command comes to."""

    state: AccountState | None
    """The account after the command (``None``: no such account)."""
    reply: Reply
    events: list[UsageEvent] = field(default_factory=list)
    forward: ImageRequested | None = None
    """The request to queue (an admitted reservation)."""
    store: bool = False
    """Whether ``state`` must be written (it changed, or it records the command's offset)."""


class Book:
    """Applies commands to account states under the configured plans. ``accounts`` exist
    from the start (name → plan) without being created."""

    def __init__(
        self,
        plans: Mapping[str, Plan],
        accounts: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.plans = plans
        self.accounts = accounts or {}
        self.clock = clock

    def apply(
        self, state: AccountState | None, command: Command, offset: int | None = None
    ) -> Outcome:
        """Apply ``command`` (read at ``offset`` of the commands topic, if from there)."""
        now = self.clock()
        if state is None and command.account in self.accounts:
            plan = self.accounts[command.account]
            state = AccountState(name=command.account, plan=plan, created_at=now, updated_at=now)
        if state is not None and offset is not None and offset <= state.offset:
            return self._replayed(state, command, now)
        outcome = self._apply(state, command, now)
        if outcome.state is None or offset is None or isinstance(command, Show):
            return outcome
        stored = outcome.state.model_copy(update={"offset": offset})
        return Outcome(stored, outcome.reply, outcome.events, outcome.forward, store=True)

    def _apply(self, state: AccountState | None, command: Command, now: datetime) -> Outcome:
        if isinstance(command, CreateAccount):
            return self._create(state, command, now)
        if state is None:
            return Outcome(None, self._refused(command, Refusal.UNKNOWN_ACCOUNT, "no such account"))
        if isinstance(command, Reserve):
            return self._reserve(state, command, now)
        if isinstance(command, Settle):
            return self._settle(state, command, now)
        if isinstance(command, Show):
            return Outcome(state, self._ok(command, state, now))
        if command.command_id in state.applied:  # a copy: the change is made already
            return Outcome(state, self._ok(command, state, now, replayed=True))
        if isinstance(command, Grant):
            changed = self._touch(state, command, now, credits=state.credits + command.credits)
            event = self._event(changed, "grant", command.command_id, now, command.credits)
            return Outcome(changed, self._ok(command, changed, now), [event], store=True)
        if isinstance(command, SetPlan):
            if command.plan not in self.plans:
                return Outcome(state, self._failed(command, f"no plan {command.plan!r}"))
            changed = self._touch(
                state, command, now, plan=command.plan, subscription_end=command.subscription_end
            )
            event = self._event(changed, "plan", command.command_id, now)
            return Outcome(changed, self._ok(command, changed, now), [event], store=True)
        assert isinstance(command, SetStatus)
        changed = self._touch(state, command, now, status=command.status)
        event = self._event(changed, "status", command.command_id, now)
        return Outcome(changed, self._ok(command, changed, now), [event], store=True)

    def _replayed(self, state: AccountState, command: Command, now: datetime) -> Outcome:
        """The answer again to a command applied before; nothing changes. An admitted
        reservation still held is queued again: the first copy may not have gone out."""
        if isinstance(command, Reserve):
            return self._copy_of_reserve(state, command, now)
        return Outcome(state, self._ok(command, state, now, replayed=True))

    def _copy_of_reserve(self, state: AccountState, command: Reserve, now: datetime) -> Outcome:
        held = state.held.get(command.request_id)
        if held is not None:
            reply = self._ok(command, state, now, credits_held=held.credits, replayed=True)
            return Outcome(state, reply, forward=_queued(command, held.credits))
        if command.request_id in state.settled:
            return Outcome(state, self._ok(command, state, now, replayed=True))
        reply = Reply(
            command_id=command.command_id,
            ok=False,
            message=f"{command.request_id} was refused before",
            replayed=True,
        )
        return Outcome(state, reply)

    # Admission --------------------------------------------------------------------------

    def _reserve(self, state: AccountState, command: Reserve, now: datetime) -> Outcome:
        if command.request_id in state.held or command.request_id in state.settled:
            return self._copy_of_reserve(state, command, now)
        if state.status is AccountStatus.SUSPENDED:
            return Outcome(
                state, self._refused(command, Refusal.SUSPENDED, "the account is suspended")
            )
        if state.subscription_end is not None and now >= state.subscription_end:
            message = "the subscription has expired"
            return Outcome(state, self._refused(command, Refusal.SUBSCRIPTION_EXPIRED, message))
        plan = self.plans[state.plan]
        counts = _current_counts(state, now)
        for window, limit in plan.limits().items():
            if counts.get(window, 0) >= limit:
                refusal = (
                    Refusal.RATE_LIMITED if window is Window.MINUTE else Refusal.QUOTA_EXHAUSTED
                )
                retry = _window_end(window, now) - int(now.timestamp())
                message = f"the plan's limit of {limit} requests a {window} is reached"
                return Outcome(state, self._refused(command, refusal, message, state, now, retry))
        price = command.price if plan.draws_credits else 0
        if price > state.credits:
            message = f"the request costs {price} credits; {state.credits} left"
            refused = self._refused(command, Refusal.INSUFFICIENT_CREDITS, message, state, now)
            return Outcome(state, refused)
        index = {window: int(now.timestamp()) // window.seconds for window in Window}
        admitted = state.model_copy(
            update={
                "credits": state.credits - price,
                "counts": {w: (index[w], counts.get(w, 0) + 1) for w in plan.limits()},
                "held": {**state.held, command.request_id: Held(credits=price, at=now)},
                "daily": _counted(state.daily, now, now.date(), requests=1, credits=price),
                "updated_at": now,
            }
        )
        event = self._event(admitted, "reserve", command.request_id, now, -price)
        reply = self._ok(command, admitted, now, credits_held=price)
        return Outcome(admitted, reply, [event], _queued(command, price), store=True)

    def _settle(self, state: AccountState, command: Settle, now: datetime) -> Outcome:
        held = state.held.get(command.request_id)
        if held is None:  # settled before, or never admitted (e.g. published to Kafka)
            replayed = command.request_id in state.settled
            return Outcome(state, self._ok(command, state, now, replayed=replayed))
        back = held.credits if command.outcome == "refund" else 0
        changed = state.model_copy(
            update={
                "credits": state.credits + back,
                "held": {rid: h for rid, h in state.held.items() if rid != command.request_id},
                "settled": [*state.settled, command.request_id][-_KEEP_IDS:],
                "daily": _counted(state.daily, now, held.at.date(), credits=-back),
                "updated_at": now,
            }
        )
        event = self._event(changed, command.outcome, command.request_id, now, back)
        return Outcome(changed, self._ok(command, changed, now), [event], store=True)

    # Accounts ---------------------------------------------------------------------------

    def _create(self, state: AccountState | None, command: CreateAccount, now: datetime) -> Outcome:
        if state is not None:
            if command.command_id in state.applied:
                return Outcome(state, self._ok(command, state, now, replayed=True))
            return Outcome(state, self._failed(command, f"account {command.account} exists"))
        if command.plan not in self.plans:
            return Outcome(None, self._failed(command, f"no plan {command.plan!r}"))
        created = AccountState(
            name=command.account,
            plan=command.plan,
            credits=command.credits,
            subscription_end=command.subscription_end,
            created_at=now,
            updated_at=now,
            applied=[command.command_id],
        )
        event = self._event(created, "create", command.command_id, now, command.credits)
        return Outcome(created, self._ok(command, created, now), [event], store=True)

    def view(self, state: AccountState, now: datetime | None = None) -> AccountView:
        """The account with its current usage of each window."""
        now = now or self.clock()
        counts = _current_counts(state, now)
        plan = self.plans.get(state.plan)
        usage = [
            WindowUsage(
                window=window,
                limit=limit,
                remaining=max(0, limit - counts.get(window, 0)),
                reset_at=_window_end(window, now),
            )
            for window, limit in (plan.limits().items() if plan is not None else ())
        ]
        return AccountView(
            name=state.name,
            plan=state.plan,
            status=state.status,
            credits=state.credits,
            subscription_end=state.subscription_end,
            usage=usage,
            daily=_counted(state.daily, now, now.date()),
            created_at=state.created_at,
            updated_at=state.updated_at,
        )

    # Helpers ----------------------------------------------------------------------------

    def _touch(
        self, state: AccountState, command: Command, now: datetime, **changes: object
    ) -> AccountState:
        applied = [*state.applied, command.command_id][-_KEEP_IDS:]
        return state.model_copy(update={**changes, "applied": applied, "updated_at": now})

    def _ok(
        self,
        command: Command,
        state: AccountState,
        now: datetime,
        credits_held: int = 0,
        replayed: bool = False,
    ) -> Reply:
        return Reply(
            command_id=command.command_id,
            ok=True,
            account=self.view(state, now),
            credits_held=credits_held,
            replayed=replayed,
        )

    def _failed(self, command: Command, message: str) -> Reply:
        return Reply(command_id=command.command_id, ok=False, message=message)

    def _refused(
        self,
        command: Command,
        refusal: Refusal,
        message: str,
        state: AccountState | None = None,
        now: datetime | None = None,
        retry_after_s: int | None = None,
    ) -> Reply:
        return Reply(
            command_id=command.command_id,
            ok=False,
            refusal=refusal,
            message=message,
            account=self.view(state, now) if state is not None else None,
            retry_after_s=retry_after_s,
        )

    def _event(
        self, state: AccountState, kind: UsageKind, key: str, now: datetime, credits: int = 0
    ) -> UsageEvent:
        event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"cutstream-ledger:{state.name}/{kind}/{key}")
        request_id = key if kind in ("reserve", "charge", "refund") else None
        return UsageEvent(
            event_id=event_id.hex,
            account=state.name,
            kind=kind,
            request_id=request_id,
            credits=credits,
            balance=state.credits,
            at=now,
        )


def _counted(
    daily: list[DayUsage], now: datetime, day: date, requests: int = 0, credits: int = 0
) -> list[DayUsage]:
    """``daily`` with ``requests`` and ``credits`` added to ``day`` (a day past the kept
    ones is not counted), the days older than :data:`DAYS_KEPT` dropped."""
    first = now.date() - timedelta(days=DAYS_KEPT - 1)
    days = {usage.day: usage for usage in daily if usage.day >= first}
    if day >= first and (requests or credits):
        was = days.get(day, DayUsage(day=day))
        days[day] = DayUsage(
            day=day, requests=was.requests + requests, credits=max(0, was.credits + credits)
        )
    return [days[key] for key in sorted(days)]


def _queued(command: Reserve, credits: int) -> ImageRequested | None:
    """The request an admitted reservation queues, holding ``credits``."""
    if command.request is None:
        return None
    payload = command.request.payload.model_copy(update={"credits": credits})
    return command.request.model_copy(update={"payload": payload})


def _window_end(window: Window, now: datetime) -> int:
    """Unix time the window holding ``now`` ends."""
    return (int(now.timestamp()) // window.seconds + 1) * window.seconds


def _current_counts(state: AccountState, now: datetime) -> dict[Window, int]:
    """Requests counted in each window that is still current."""
    seconds = int(now.timestamp())
    return {
        window: count
        for window, (index, count) in state.counts.items()
        if index == seconds // window.seconds
    }
