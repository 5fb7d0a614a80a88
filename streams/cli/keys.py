"""``cutstream keys``: create, list and revoke API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from streams.cli.base import cli, console, load_settings

if TYPE_CHECKING:
    from streams.storage.apikeys import KeyStore


@cli.group()
def keys() -> None:
    """Create, list and revoke API keys (stored only as hashes)."""


def _key_store() -> KeyStore:
    from streams.storage.apikeys import KeyStore
    from streams.storage.s3 import S3ObjectStore

    settings = load_settings()
    return KeyStore(S3ObjectStore(settings), settings.s3.jobs_bucket)


@keys.command("create")
@click.option("--account", default="default", show_default=True, help="Account of the key.")
@click.option("--name", default="", help="A label to recognise the key by.")
def keys_create(account: str, name: str) -> None:
    """Create a key and print it — the only time it is shown. With metering on, the
    account must exist (`cutstream accounts create`)."""
    from schemas.events import is_key_safe

    if not is_key_safe(account):
        raise click.BadParameter("1-128 characters of [A-Za-z0-9._-]", param_hint="--account")
    if load_settings().metering.enabled:
        from schemas.ledger import Show
        from streams.cli.accounts import ask

        if not ask(Show(account=account)).ok:
            raise click.BadParameter(
                f"no account {account!r}: create it with `cutstream accounts create`",
                param_hint="--account",
            )
    key, record = _key_store().create(account, name)
    console().print(f"created key {record.key_id} for account {account!r}; store it now:")
    click.echo(key)


@keys.command("list")
def keys_list() -> None:
    """List keys (ids and accounts, never the keys)."""
    from rich.table import Table

    records = _key_store().list()
    table = Table(title="API keys")
    for column in ("id", "account", "name", "created", "revoked"):
        table.add_column(column)
    for record in records:
        revoked = f"{record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else ""
        table.add_row(
            record.key_id,
            record.account,
            record.name,
            f"{record.created_at:%Y-%m-%d %H:%M}",
            revoked,
        )
    console(stderr=False).print(table)


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by id; gateways stop accepting it within gateway.api_key_cache_s."""
    record = _key_store().revoke(key_id)
    click.echo(f"revoked {record.key_id} (account {record.account})")
