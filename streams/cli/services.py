"""Running the service: ``up``, ``stack``, ``provision``, ``worker``, ``notifier``,
``ledger``, ``batches``, ``gateway``."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

import click

from streams.cli.base import cli, console, load_settings

if TYPE_CHECKING:
    from streams.stack import Endpoint


def _print_endpoints(
    endpoints: list[Endpoint], workers: int, gateway_url: str, metering: bool
) -> None:
    from rich.table import Table

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
            endpoint.log or "",
        )
    if workers:
        table.add_row("processor", f"{workers} worker(s)", "this process", "this terminal")
        table.add_row("notifier", "webhooks", "this process", "this terminal")
        if metering:
            table.add_row("ledger", "accounts and credits", "this process", "this terminal")
        table.add_row("batches", "bulk imports", "this process", "this terminal")
        table.add_row("gateway", gateway_url, "this process", "this terminal")
    out.print(table)
    out.print("Press Ctrl-C to stop. In another shell: [bold]cutstream submit IMAGE -o out/[/]")
    if workers:
        out.print(
            f"Console: {gateway_url}/ · API docs: {gateway_url}/docs — create a key with "
            "[bold]cutstream keys create[/]"
        )


def _run_services(workers: int) -> None:
    from streams.stack.supervisor import run_services

    settings = load_settings()
    gateway_url = f"http://{settings.gateway.host}:{settings.gateway.port}"
    code = asyncio.run(
        run_services(
            settings,
            workers=workers,
            on_ready=lambda e: _print_endpoints(e, workers, gateway_url, settings.metering.enabled),
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
def up(workers: int) -> None:
    """Run the whole service in the foreground: the stack, the processor workers, the
    webhook notifier, the ledger (unless metering is off), the batch service and the
    gateway."""
    _run_services(workers=workers)


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
