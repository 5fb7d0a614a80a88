"""Bodies of the account API (``/v1/account``, ``/v1/keys``): what the console's account
page shows, and API keys the account manages itself."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.ledger import AccountStatus, DayUsage, WindowUsage


class PlanView(BaseModel):
    """An account's plan: its limits and whether requests draw credits."""

    name: str
    description: str = ""
    per_minute: int | None = None
    per_day: int | None = None
    per_month: int | None = None
    draws_credits: bool = False


class AccountPage(BaseModel):
    """The calling account: plan, standing, credits, limits and the last 30 days."""

    account: str
    metering: bool = Field(
        description="Whether the gateway meters requests; off, the rest is empty."
    )
    plan: PlanView | None = None
    status: AccountStatus | None = None
    credits: int | None = Field(default=None, description="Credits left.")
    subscription_end: datetime | None = None
    usage: list[WindowUsage] = Field(
        default_factory=list, description="Each limited window: limit, remaining, reset."
    )
    daily: list[DayUsage] = Field(
        default_factory=list, description="Requests and credits per UTC day, the last 30 days."
    )
    updated_at: datetime | None = Field(
        default=None, description="When the ledger last changed the account (its view lags ~1 s)."
    )


class KeyCreate(BaseModel):
    """Body of ``POST /v1/keys``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=100, description="A label, e.g. 'catalog sync'.")


class KeyView(BaseModel):
    """An API key of the account (never the key itself)."""

    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None


class KeyCreated(KeyView):
    """A new key: ``key`` is shown this once and stored only as a hash."""

    key: str
