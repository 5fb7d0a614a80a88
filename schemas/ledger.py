"""Metering: plans, account states, ledger commands and replies, and usage events.

Every change to an account goes through its ledger — one writer per account (the
``cutstream ledger`` service, commands keyed by account on ``topics.ledger_commands``).
Each change is published as a :class:`UsageEvent` on ``topics.usage``, keyed by account,
with a deterministic ``event_id`` (the same change always has the same id), so downstream
billing can consume it and drop the copies a redelivery makes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from schemas.events import AccountId, ImageRequested, RequestId, utc_now
from schemas.refs import FrozenModel

SCHEMA_VERSION = 1


class Window(StrEnum):
    """A quota window: fixed lengths, aligned to the Unix epoch (so every replica agrees
    when one resets)."""

    MINUTE = "minute"
    DAY = "day"
    MONTH = "month"

    @property
    def seconds(self) -> int:
        return {"minute": 60, "day": 86_400, "month": 2_592_000}[self.value]


class Plan(FrozenModel):
    """What an account may do. ``None`` means no limit."""

    per_minute: int | None = Field(default=None, ge=1, description="Requests a minute.")
    per_day: int | None = Field(default=None, ge=1, description="Requests a day (UTC).")
    per_month: int | None = Field(default=None, ge=1, description="Requests in 30 days.")
    draws_credits: bool = Field(
        default=False, description="Requests cost credits from the account's balance."
    )
    description: str = ""

    def limits(self) -> dict[Window, int]:
        windows = {Window.MINUTE: self.per_minute, Window.DAY: self.per_day}
        windows[Window.MONTH] = self.per_month
        return {window: limit for window, limit in windows.items() if limit is not None}


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Refusal(StrEnum):
    """Why the ledger refused a request; each API shape has its own status and code."""

    UNKNOWN_ACCOUNT = "unknown_account"
    SUSPENDED = "suspended"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    SUBSCRIPTION_EXPIRED = "subscription_expired"
    RATE_LIMITED = "rate_limited"
    """The per-minute limit."""
    QUOTA_EXHAUSTED = "quota_exhausted"
    """The daily or monthly quota."""


class WindowUsage(FrozenModel):
    """One quota window as the rate-limit headers show it."""

    window: Window
    limit: int
    remaining: int
    reset_at: int = Field(description="Unix time the window ends.")


DAYS_KEPT = 30
"""Days of daily usage an account keeps (today included)."""


class DayUsage(FrozenModel):
    """What an account used in one UTC day."""

    day: date
    requests: int = Field(default=0, description="Requests admitted.")
    credits: int = Field(default=0, description="Credits charged (held, less refunds).")


class AccountView(FrozenModel):
    """An account as the ledger holds it (its projection in the store, CLI and API)."""

    name: AccountId
    plan: str
    status: AccountStatus = AccountStatus.ACTIVE
    credits: int = Field(default=0, description="Credits left.")
    subscription_end: datetime | None = None
    usage: list[WindowUsage] = Field(default_factory=list)
    daily: list[DayUsage] = Field(
        default_factory=list,
        description=f"Usage per UTC day, the last {DAYS_KEPT} days, oldest first (days "
        "without any left out).",
    )
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)


# Commands -----------------------------------------------------------------------------


class _Command(FrozenModel):
    schema_version: int = SCHEMA_VERSION
    command_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    account: AccountId
    reply_to: str | None = Field(
        default=None, description="Who waits for the reply (a gateway or CLI instance)."
    )
    reply_partition: int | None = Field(
        default=None, ge=0, description="The replies topic's partition ``reply_to`` reads."
    )


class CreateAccount(_Command):
    kind: Literal["create_account"] = "create_account"
    plan: str
    credits: int = Field(default=0, ge=0)
    subscription_end: datetime | None = None


class Grant(_Command):
    kind: Literal["grant"] = "grant"
    credits: int = Field(description="Credits to add (negative to take back).")
    note: str = ""


class SetPlan(_Command):
    kind: Literal["set_plan"] = "set_plan"
    plan: str
    subscription_end: datetime | None = None


class SetStatus(_Command):
    kind: Literal["set_status"] = "set_status"
    status: AccountStatus


class Reserve(_Command):
    """Admit one request: check status, subscription, quotas and credits, count it, hold
    its price and queue it. ``request`` is published to the requests topic by the ledger
    itself, only when admitted (with ``credits`` set to what is held), so a request is
    queued if and only if it is admitted."""

    kind: Literal["reserve"] = "reserve"
    request_id: RequestId
    price: int = Field(ge=0, description="Credits it costs on plans that draw credits.")
    request: ImageRequested | None = Field(
        default=None, description="The request to queue once admitted (none: only count it)."
    )


class Settle(_Command):
    """The outcome of an admitted request: ``charge`` keeps the held credits, ``refund``
    gives them back (a failed or canceled request costs nothing). Settling a request that
    holds nothing (settled before, or never admitted) changes nothing."""

    kind: Literal["settle"] = "settle"
    request_id: RequestId
    outcome: Literal["charge", "refund"]


class Show(_Command):
    kind: Literal["show"] = "show"


Command = Annotated[
    CreateAccount | Grant | SetPlan | SetStatus | Reserve | Settle | Show,
    Field(discriminator="kind"),
]


class Reply(FrozenModel):
    """The ledger's answer to a command (sent to ``reply_to`` when there is one)."""

    command_id: str
    ok: bool
    refusal: Refusal | None = None
    message: str = ""
    account: AccountView | None = None
    credits_held: int = Field(default=0, description="What a reserve holds (charged later).")
    retry_after_s: int | None = Field(
        default=None, description="For rate_limited / quota_exhausted: until the window ends."
    )
    replayed: bool = Field(
        default=False, description="The command was applied before (a redelivery)."
    )


# Usage events ------------------------------------------------------------------------


class UsageEvent(FrozenModel):
    """One change to an account's balance or standing (topic ``topics.usage``)."""

    schema_version: int = SCHEMA_VERSION
    type: Literal["usage"] = "usage"
    event_id: str = Field(description="Deterministic: the same change has the same id.")
    account: AccountId
    kind: Literal["grant", "reserve", "charge", "refund", "plan", "status", "create"]
    request_id: str | None = None
    credits: int = Field(default=0, description="Change to the balance (held: negative).")
    balance: int = Field(description="Credits left after the change.")
    at: datetime = Field(default_factory=utc_now)
