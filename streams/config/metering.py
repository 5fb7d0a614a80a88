"""Metering settings: plans, prices and the ledger service (``metering.*``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from schemas.ledger import Plan
from streams.config.groups import Group


def _default_plans() -> dict[str, Plan]:
    """Seed 004's table, plus pay-as-you-go and internal."""
    return {
        "basic": Plan(per_minute=10, per_month=100, description="Free: 100 a month, 10 a minute."),
        "pro": Plan(per_minute=60, per_month=1_000, description="1,000 a month, 60 a minute."),
        "ultra": Plan(per_minute=120, per_month=5_000, description="5,000 a month, 120 a minute."),
        "mega": Plan(per_minute=300, per_month=10_000, description="10,000 a month, 300 a minute."),
        "per-usage": Plan(
            per_minute=600,
            draws_credits=True,
            description="Pay as you go: each image draws credits; 600 a minute.",
        ),
        "internal": Plan(description="Trusted pipelines: no limits, draws no credits."),
    }


class MeteringSettings(Group):
    """Accounts, plans, credits and rate limits (the `cutstream ledger` service)."""

    enabled: bool = Field(
        default=True,
        description="Meter requests made through the gateway: each is admitted by the "
        "ledger (status, subscription, quotas, credits) before it is queued. Off: no "
        "accounts, no limits, nothing charged.",
    )
    group_id: str = Field(
        default="cutstream-ledger",
        description="Consumer group (Faust app id) of the ledger; its table's changelog is "
        "`<group_id>-accounts-changelog`.",
    )
    plans: dict[str, Plan] = Field(
        default_factory=_default_plans,
        description="Plans by name (JSON): `per_minute`, `per_day`, `per_month` (requests; "
        "absent: unlimited) and `draws_credits` (each request costs its price in credits). "
        "Windows are fixed and aligned to Unix time: a minute, a UTC day, 30 days.",
    )
    prices: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: {"default": 1, "remove-bg": 10},
        description="Credits an image costs on plans that draw credits, by API shape "
        "(`native`, `remove-bg`, `artworks`, `remove`, `jobs`, `rembg`, and `batch` for "
        "batch items) or shape and operation (`rembg/blur`); `default` for the rest. Seed "
        "000's route costs 10.",
    )
    rendition_price: int = Field(
        default=0,
        ge=0,
        description="Credits each rendition beyond the first adds to a request's price "
        "(`outputs`, docs/api.md#renditions): the model runs once per request, so by "
        "default extra renditions cost nothing; set it where encoding many large outputs "
        "should be paid for.",
    )
    default_plan: str = Field(
        default="basic", description="Plan of an account created without `--plan`."
    )
    accounts: dict[str, str] = Field(
        default_factory=lambda: {"default": "internal"},
        description="Accounts that exist from the start, with their plan (JSON). The "
        "`default` account (the dev API key's) is internal: unlimited and free.",
    )
    reply_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="How long the gateway waits for the ledger's answer before it answers "
        "503 (the request is then canceled; if the ledger admits it later, its credits "
        "come back).",
    )
    fetch_max_wait_ms: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="`kafka.fetch_max_wait_ms` for the admission path (the ledger's "
        "commands, the gateway's replies): it bounds the latency each request pays.",
    )
    projection_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often the ledger writes changed accounts to the store "
        "(`<s3.jobs_bucket>/_accounts/<name>.json`), where `accounts list` and the "
        "gateway's status checks read them.",
    )
    web_port: int = Field(
        default=6068, ge=0, le=65535, description="Port of the ledger's /healthz and /metrics."
    )

    @model_validator(mode="after")
    def _plans_known(self) -> MeteringSettings:
        named = {"metering.default_plan": self.default_plan} | {
            f"metering.accounts[{account}]": plan for account, plan in self.accounts.items()
        }
        for where, plan in named.items():
            if plan not in self.plans:
                raise ValueError(f"{where}: no plan {plan!r} in metering.plans")
        return self

    def price(self, shape: str, operation: str | None = None, renditions: int = 1) -> int:
        """Credits one image costs through ``shape`` (and ``operation``), with
        ``renditions`` outputs (0 or 1: one)."""
        prices = self.prices
        extra = self.rendition_price * max(0, renditions - 1)
        if operation is not None and f"{shape}/{operation}" in prices:
            return prices[f"{shape}/{operation}"] + extra
        return prices.get(shape, prices.get("default", 1)) + extra
