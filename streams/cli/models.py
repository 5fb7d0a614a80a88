"""``cutstream models``: install and list segmentation models."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import click

from streams.cli.base import cli, console, load_settings

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


@cli.group()
def models() -> None:
    """Install and list segmentation models."""


def _advance(progress: Progress, task: TaskID, done: int, total: int | None) -> None:
    progress.update(task, completed=done, total=total)


@models.command("pull")
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--accept-noncommercial",
    is_flag=True,
    help="Also pull models whose licence forbids commercial use (bria-rmbg).",
)
def models_pull(names: tuple[str, ...], accept_noncommercial: bool) -> None:
    """Download, verify and install models (e.g. `u2netp`, `u2net`); `u2net-int8` is
    made from u2net here (about a minute; needs the `quantize` extra)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from streams.imaging.build import build_registry
    from streams.imaging.modelpull import pull_model

    settings = load_settings()
    registry = build_registry(settings)
    specs = [registry.spec(name) for name in names]
    for spec in specs:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console(),
            transient=True,
        ) as progress:
            task = progress.add_task(spec.name, total=None)
            path = pull_model(
                spec,
                settings.models.dir,
                settings.models.index_url,
                progress=partial(_advance, progress, task),
                accept_noncommercial=accept_noncommercial,
            )
        click.echo(f"{spec.name}: installed at {path}")


@models.command("list")
def models_list() -> None:
    """Show the known models and which are installed."""
    from rich.table import Table

    from processors.segmenters import (
        Machine,
        QuantizedSource,
        UrlSource,
        expected_sha256,
        plan,
    )
    from streams.imaging.build import build_registry, runtime_options
    from streams.imaging.modelpull import is_installed

    settings = load_settings()
    registry = build_registry(settings)
    runtime = runtime_options(settings.models)
    machine = Machine.detect(runtime)
    plans = {name: plan(runtime, machine, spec.bf16_auto) for name, spec in registry.specs.items()}
    default = plans.get(settings.models.default)
    table = Table(
        title=f"models in {settings.models.dir}",
        caption=f"{settings.models.default} here: {default.why}" if default else None,
    )
    for column in ("name", "family", "size", "licence", "installed", "runs on", "description"):
        table.add_column(column)
    for spec in registry.specs.values():
        path = settings.models.dir / spec.file
        if not path.exists():
            how = f"run `cutstream models pull {spec.name}`" if spec.source else "file missing"
            state = f"no — {how}"
        elif is_installed(spec, settings.models.dir):
            state = "yes" if expected_sha256(spec, path) else "yes (unverified)"
        else:
            state = "corrupt — pull it again"
        size = f"{spec.size_bytes / 1e6:.1f} MB" if spec.size_bytes else ""
        marker = " (default)" if spec.name == settings.models.default else ""
        chosen = plans[spec.name]
        runs = f"{chosen.engine} {' or '.join(chosen.precisions)}"
        if isinstance(spec.source, QuantizedSource):  # its weights and activations are int8
            runs = f"{chosen.engine} int8"
        elif len(chosen.precisions) > 1:
            runs += " (timed at load)"
        licence = spec.licence
        if isinstance(spec.source, UrlSource) and not spec.source.commercial:
            licence += " (non-commercial)"
        table.add_row(spec.name + marker, spec.family, size, licence, state, runs, spec.description)
    console(stderr=False).print(table)
