"""``cutstream dlq``: look at dead letters and replay them (requests, or with
``--webhooks`` undelivered webhooks). See :mod:`streams.messaging.deadletters`."""

from __future__ import annotations

import asyncio
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from streams.cli.base import cli, console, load_settings

if TYPE_CHECKING:
    from schemas.events import DeadLetter
    from streams.messaging.deadletters import DeadLetters

_AGO = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _since(value: str | None) -> datetime | None:
    """``30m``, ``2h``, ``1d`` ago, or an ISO 8601 time (UTC unless it says otherwise)."""
    if value is None:
        return None
    if match := _AGO.match(value):
        amount, unit = match.groups()
        return datetime.now(UTC) - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("30m, 2h, 1d or an ISO 8601 time", param_hint="--since") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _run(webhooks: bool, call: Any) -> Any:
    from streams.messaging.deadletters import DeadLetters, Kind
    from streams.storage.s3 import S3ObjectStore

    settings = load_settings()

    async def run() -> Any:
        kind: Kind = "webhooks" if webhooks else "requests"
        async with DeadLetters(settings, S3ObjectStore(settings), kind) as letters:
            return await call(letters)

    return asyncio.run(run())


def _age(letter: DeadLetter) -> str:
    seconds = int((datetime.now(UTC) - letter.created_at).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


webhooks_flag = click.option(
    "--webhooks", is_flag=True, help="Undelivered webhooks instead of requests."
)
reason_option = click.option(
    "--reason", "reasons", multiple=True, help="Only letters with this reason (repeatable)."
)
since_option = click.option(
    "--since", default=None, help="Only letters from 30m, 2h, 1d ago or an ISO time on."
)


@cli.group()
def dlq() -> None:
    """Dead letters: list, show, replay (requests; --webhooks for webhook deliveries)."""


@dlq.command("list")
@webhooks_flag
@reason_option
@since_option
@click.option("--json", "as_json", is_flag=True, help="One JSON letter per line.")
def list_letters(
    webhooks: bool, reasons: tuple[str, ...], since: str | None, as_json: bool
) -> None:
    """The dead letters in the topic now, oldest first."""
    from rich.markup import escape
    from rich.table import Table

    found: list[DeadLetter] = _run(
        webhooks, lambda letters: letters.letters(_since(since), frozenset(reasons))
    )
    if as_json:
        for letter in found:
            click.echo(letter.model_dump_json())
        return
    table = Table(title=f"{len(found)} dead letter(s)")
    table.add_column("id", no_wrap=True)  # whole, whatever the width: `dlq show` takes it
    for column in ("age", "reason", "request id", "account", "error", "from"):
        table.add_column(column, overflow="fold")
    for letter in found:
        table.add_row(
            letter.event_id,
            _age(letter),
            letter.reason,
            letter.request_id or "-",
            letter.account or "-",
            escape(f"[{letter.error.code}] {letter.error.message}"[:120]),
            f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}",
        )
    console(stderr=False).print(table)


@dlq.command("show")
@click.argument("letter_id")
@webhooks_flag
def show(letter_id: str, webhooks: bool) -> None:
    """One dead letter, whole, as JSON (the original included); LETTER_ID may be the
    start of an id, if only one letter's id starts so."""
    found: list[DeadLetter] = _run(webhooks, lambda letters: letters.find(letter_id))
    if not found:
        raise click.ClickException(f"no dead letter {letter_id}")
    if len(found) > 1:
        ids = ", ".join(letter.event_id for letter in found[:5])
        raise click.ClickException(f"{len(found)} dead letters start with {letter_id}: {ids}")
    click.echo(found[0].model_dump_json(indent=2))


@dlq.command("replay")
@webhooks_flag
@reason_option
@since_option
@click.option("--request-id", "request_ids", multiple=True, help="Only this request (repeatable).")
@click.option("--id", "letter_ids", multiple=True, help="Only this letter (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Every letter (when no filter is given).")
@click.option("--dry-run", is_flag=True, help="Say what would be replayed; publish nothing.")
@click.option("--force", is_flag=True, help="Replay letters that were replayed before, again.")
def replay(
    webhooks: bool,
    reasons: tuple[str, ...],
    since: str | None,
    request_ids: tuple[str, ...],
    letter_ids: tuple[str, ...],
    everything: bool,
    dry_run: bool,
    force: bool,
) -> None:
    """Publish the originals of the chosen letters again: a request to the requests topic
    (its failed job record reopened), a webhook to the deliveries topic, attempt 1.
    Each letter is replayed once unless --force. Exits 1 if a chosen letter was not
    replayed."""
    if not (reasons or since or request_ids or letter_ids or everything):
        raise click.UsageError("choose letters (--reason, --since, --request-id, --id) or --all")

    async def run(letters: DeadLetters) -> list[Any]:
        chosen = [
            letter
            for letter in await letters.letters(_since(since), frozenset(reasons))
            if (not request_ids or letter.request_id in request_ids)
            and (not letter_ids or letter.event_id in letter_ids)
        ]
        return [await letters.replay(letter, force=force, dry_run=dry_run) for letter in chosen]

    outcomes = _run(webhooks, run)
    out = console()
    for outcome in outcomes:
        letter = outcome.letter
        out.print(
            f"{outcome.outcome:<17} {letter.event_id} {letter.request_id or '-'} {outcome.detail}",
            soft_wrap=True,
            markup=False,
        )
    done = sum(o.outcome in ("replayed", "would_replay") for o in outcomes)
    out.print(f"{done} of {len(outcomes)} letter(s) {'would be ' if dry_run else ''}replayed")
    if done < len(outcomes):
        sys.exit(1)
