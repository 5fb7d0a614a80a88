"""Running the service: ``up``, ``stack``, ``provision``, ``worker``, ``notifier``,
``ledger``, ``batches``, ``gateway``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from streams.cli.base import cli, console, load_settings

if TYPE_CHECKING:
    from streams.config.settings import Settings
    from streams.stack import Endpoint


def _print_endpoints(
    endpoints: list[Endpoint], workers: int, gateway_url: str, settings: Settings, verbose: bool
) -> None:
    from rich.table import Table

    from streams.config.groups import DEV_WEBHOOK_SECRET
    from streams.stack.supervisor import service_log

    logs = service_log(settings, "any").parent

    def where(name: str) -> str:
        return "this terminal" if verbose else service_log(settings, name).name

    out = console(stderr=False)
    table = Table(title="cutstream is up", show_header=True)
    table.add_column("service")
    table.add_column("address")
    table.add_column("run by")
    table.add_column("log")
    for endpoint in endpoints:
        table.add_row(
            endpoint.name,
            endpoint.address,
            "this process" if endpoint.managed else "external",
            Path(endpoint.log).name if endpoint.log else "",
        )
    if workers:
        for index in range(workers):
            table.add_row(f"worker-{index}", "processor", "this process", where(f"worker-{index}"))
        table.add_row("notifier", "webhooks", "this process", where("notifier"))
        if settings.metering.enabled:
            table.add_row("ledger", "accounts and credits", "this process", where("ledger"))
        table.add_row("batches", "bulk imports", "this process", where("batches"))
        table.add_row("gateway", gateway_url, "this process", where("gateway"))
    out.print(table)
    cutstream = _command_name()
    out.print(f"Press Ctrl-C to stop. In another shell: [bold]{cutstream} submit IMAGE -o out/[/]")
    if workers and settings.gateway.console:
        link = console_link(settings, gateway_url)
        out.print(f"Console: {link}", soft_wrap=True, highlight=False)
        out.print(
            f"API docs: {gateway_url}/docs — keys for clients: [bold]{cutstream} keys create[/]"
        )
    if workers and DEV_WEBHOOK_SECRET in settings.webhooks.secrets:
        out.print(
            "Webhooks are signed with the public development secret "
            f"{DEV_WEBHOOK_SECRET.get_secret_value()} (set CUTSTREAM_WEBHOOKS__SECRETS for "
            "anything else).",
            soft_wrap=True,
            highlight=False,
        )
    out.print(
        f"Logs: {logs}/" + ("" if verbose else " ([bold]up --verbose[/] shows the services' here)"),
        soft_wrap=True,
    )


CONSOLE_KEY_NAME = "console (cutstream up)"


def console_link(settings: Settings, gateway_url: str) -> str:
    """The console's address carrying an API key of the account ``default`` in its
    fragment (never sent to the server; the page keeps it for the tab and drops it from
    the address bar), so the first photo needs no key from the CLI. The key is made once
    and kept in ``<state_dir>/console.key`` (mode 0600); revoked, the next ``up`` makes a
    new one. Without a ``default`` account (metering on, removed from
    ``metering.accounts``), the plain address."""
    from streams.storage.apikeys import KeyStore
    from streams.storage.s3 import S3ObjectStore

    if settings.metering.enabled and "default" not in settings.metering.accounts:
        return f"{gateway_url}/"
    keys = KeyStore(S3ObjectStore(settings), settings.s3.jobs_bucket)
    kept = settings.state_dir / "console.key"
    key = kept.read_text().strip() if kept.exists() else ""
    if not key or keys.account_now(key) != "default":
        key, _ = keys.create("default", CONSOLE_KEY_NAME)
        kept.touch(mode=0o600)
        kept.write_text(key)
    return f"{gateway_url}/#key={key}"


def _command_name() -> str:
    """How this shell reaches the ``cutstream`` command: its name if it is on the PATH,
    else its path (``.venv/bin/cutstream`` after ``make run``)."""
    import os
    import shutil

    here = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    found = shutil.which("cutstream")
    if found is not None and (here is None or Path(found).resolve() == here):
        return "cutstream"
    if here is not None and here.name == "cutstream":
        return os.path.relpath(here) if here.is_relative_to(Path.cwd()) else str(here)
    return "cutstream"


def _run_services(workers: int, verbose: bool = True) -> None:
    from streams.stack.supervisor import run_services

    settings = load_settings()
    gateway_url = f"http://{settings.gateway.host}:{settings.gateway.port}"
    code = asyncio.run(
        run_services(
            settings,
            workers=workers,
            on_ready=lambda e: _print_endpoints(e, workers, gateway_url, settings, verbose),
            verbose=verbose,
        )
    )
    sys.exit(code)


@cli.command()
def stack() -> None:
    """Run the embedded Kafka-protocol broker and S3 server until Ctrl-C.

    Parts that the settings point elsewhere (CUTSTREAM_KAFKA__BOOTSTRAP_SERVERS,
    CUTSTREAM_S3__ENDPOINT) are not started, only provisioned (buckets, topics).
    """
    _run_services(workers=0)


@cli.command()
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Processor worker processes to run.",
)
@click.option(
    "--verbose", is_flag=True, help="Show the services' logs here instead of in their files."
)
def up(workers: int, verbose: bool) -> None:
    """Run the whole service in the foreground: the stack, the processor workers, the
    webhook notifier, the ledger (unless metering is off), the batch service and the
    gateway. Quiet: a table of what runs where; each service logs to a file under the
    state folder (`--verbose` shows the logs here)."""
    _run_services(workers=workers, verbose=verbose)


@cli.command("provision")
def provision_command() -> None:
    """Wait for Kafka and S3, create the buckets and topics, exit. Starts nothing.

    For deployments on external Kafka/S3 (a compose service, a Kubernetes Job).
    """
    from streams.stack import provision

    settings = load_settings()
    asyncio.run(provision(settings))
    click.echo(
        f"provisioned buckets and topics on {settings.kafka_bootstrap} and {settings.s3_endpoint}"
    )


@cli.command()
def gateway() -> None:
    """Serve the HTTP API (every API shape; OpenAPI docs at /docs)."""
    from streams.gateway.app import run_gateway

    run_gateway(load_settings())


@cli.command()
def notifier() -> None:
    """Run one webhook notifier (signed deliveries with retries, its own consumer group)."""
    from streams.notifier.app import run_notifier

    run_notifier(load_settings())


@cli.command()
def ledger() -> None:
    """Run one ledger worker (accounts, credits and limits; its own consumer group)."""
    from streams.ledger.app import run_ledger

    run_ledger(load_settings())


@cli.command()
def batches() -> None:
    """Run one batch service: the planner (manifests and prefixes into the bulk lane) and
    the tracker (counts, the results manifest, batch.completed)."""
    from streams.batches.app import run_batches

    run_batches(load_settings())


@cli.command()
def worker() -> None:
    """Run one processor worker (a Faust worker in the processors' consumer group)."""
    from streams.worker.app import run_worker

    run_worker(load_settings())
