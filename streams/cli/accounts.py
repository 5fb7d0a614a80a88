"""``cutstream accounts``: create accounts, grant credits, change plans, suspend and resume.

Every change is a command to the ledger (``cutstream ledger`` must be running, as it is
under ``cutstream up``), answered once it is applied; ``list`` reads the ledger's
projection in the store.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

import click

from streams.cli.base import cli, console, load_settings

if TYPE_CHECKING:
    from schemas.ledger import AccountView, Command, Reply


@cli.group()
def accounts() -> None:
    """Accounts, plans and credits (kept by the ledger service)."""


def ask(command: Command) -> Reply:
    """Send ``command`` to the ledger and wait for its reply."""
    from streams.messaging.ledger import LedgerClient

    async def run() -> Reply:
        client = LedgerClient(load_settings(), "cli")
        await client.start()
        try:
            return await client.ask(command)
        finally:
            await client.stop()

    return asyncio.run(run())


def _checked_name(name: str) -> str:
    from schemas.events import is_key_safe

    if not is_key_safe(name):
        raise click.BadParameter("1-128 characters of [A-Za-z0-9._-]", param_hint="NAME")
    return name


def _applied(command: Command) -> AccountView:
    reply = ask(command)
    if not reply.ok or reply.account is None:
        raise click.ClickException(reply.message or f"refused: {reply.refusal}")
    return reply.account


def _print(view: AccountView) -> None:
    from rich.table import Table

    table = Table(title=f"account {view.name}", show_header=False)
    table.add_row("plan", view.plan)
    table.add_row("status", str(view.status))
    table.add_row("credits", str(view.credits))
    end = view.subscription_end
    table.add_row("subscription ends", f"{end:%Y-%m-%d %H:%M} UTC" if end else "never")
    for usage in view.usage:
        reset = datetime.fromtimestamp(usage.reset_at).astimezone()
        table.add_row(
            f"this {usage.window}",
            f"{usage.limit - usage.remaining} of {usage.limit} used; resets {reset:%Y-%m-%d %H:%M}",
        )
    console(stderr=False).print(table)


@accounts.command("create")
@click.argument("name")
@click.option("--plan", default=None, help="Plan name (default: metering.default_plan).")
@click.option("--credits", default=0, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--until",
    type=click.DateTime(),
    default=None,
    help="When the subscription ends (UTC); requests after it get 402.",
)
def accounts_create(name: str, plan: str | None, credits: int, until: datetime | None) -> None:
    """Create an account."""
    from datetime import UTC

    from schemas.ledger import CreateAccount

    plan = plan or load_settings().metering.default_plan
    end = until.replace(tzinfo=UTC) if until is not None else None
    view = _applied(
        CreateAccount(account=_checked_name(name), plan=plan, credits=credits, subscription_end=end)
    )
    _print(view)


@accounts.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the account as JSON.")
def accounts_show(name: str, as_json: bool) -> None:
    """Show an account: plan, status, credits and what is left of each limit."""
    from schemas.ledger import Show

    view = _applied(Show(account=_checked_name(name)))
    if as_json:
        click.echo(view.model_dump_json(indent=2))
    else:
        _print(view)


@accounts.command("list")
def accounts_list() -> None:
    """List accounts as the ledger last wrote them to the store."""
    from rich.table import Table

    from streams.storage.accounts import AccountViews
    from streams.storage.s3 import S3ObjectStore

    settings = load_settings()
    views = AccountViews(S3ObjectStore(settings), settings.s3.jobs_bucket).list()
    table = Table(title="accounts")
    for column in ("name", "plan", "status", "credits", "updated"):
        table.add_column(column)
    for view in views:
        table.add_row(
            view.name,
            view.plan,
            str(view.status),
            str(view.credits),
            f"{view.updated_at:%Y-%m-%d %H:%M:%S}",
        )
    console(stderr=False).print(table)


@accounts.command("grant")
@click.argument("name")
@click.argument("credits", type=int)
@click.option("--note", default="", help="Why (kept in the usage event).")
def accounts_grant(name: str, credits: int, note: str) -> None:
    """Add CREDITS to an account (negative to take some back)."""
    from schemas.ledger import Grant

    view = _applied(Grant(account=_checked_name(name), credits=credits, note=note))
    click.echo(f"{view.name}: {view.credits} credits")


@accounts.command("plans")
def accounts_plans() -> None:
    """The plans accounts can be on (`metering.plans`)."""
    from rich.table import Table

    table = Table(title="plans")
    for column in ("plan", "per minute", "per day", "per month", "draws credits", "about"):
        table.add_column(column)
    for name, plan in load_settings().metering.plans.items():
        table.add_row(
            name,
            *(
                str(limit) if limit is not None else "-"
                for limit in (plan.per_minute, plan.per_day, plan.per_month)
            ),
            "yes" if plan.draws_credits else "no",
            plan.description,
        )
    console(stderr=False).print(table)


@accounts.command("plan")
@click.argument("name")
@click.argument("plan")
@click.option("--until", type=click.DateTime(), default=None, help="Subscription end (UTC).")
def accounts_plan(name: str, plan: str, until: datetime | None) -> None:
    """Move an account to PLAN (one of `cutstream accounts plans`)."""
    from datetime import UTC

    from schemas.ledger import SetPlan

    plans = load_settings().metering.plans
    if plan not in plans:
        raise click.BadParameter(
            f"no plan {plan!r}; the plans: {', '.join(plans)}", param_hint="PLAN"
        )
    end = until.replace(tzinfo=UTC) if until is not None else None
    view = _applied(SetPlan(account=_checked_name(name), plan=plan, subscription_end=end))
    click.echo(f"{view.name}: plan {view.plan}")


def _set_status(name: str, suspended: bool) -> None:
    from schemas.ledger import AccountStatus, SetStatus

    status = AccountStatus.SUSPENDED if suspended else AccountStatus.ACTIVE
    view = _applied(SetStatus(account=_checked_name(name), status=status))
    click.echo(f"{view.name}: {view.status}")


@accounts.command("suspend")
@click.argument("name")
def accounts_suspend(name: str) -> None:
    """Suspend an account: every route answers it 403 (within a second or two)."""
    _set_status(name, suspended=True)


@accounts.command("resume")
@click.argument("name")
def accounts_resume(name: str) -> None:
    """Make a suspended account active again."""
    _set_status(name, suspended=False)
