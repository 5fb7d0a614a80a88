"""``cutstream submit``: local images through Kafka and S3, results downloaded."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from schemas.errors import CutstreamError
from streams.cli.base import cli, console, failure_line, load_settings, progress_bar
from streams.cli.options import (
    parse_renditions,
    pop_removal_options,
    removal_option_flags,
    rendition_flag,
)

if TYPE_CHECKING:
    from streams.client import Outcome


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
@rendition_flag
@removal_option_flags
def submit(
    images: tuple[Path, ...],
    output_dir: Path,
    timeout: float,
    account: str,
    webhook_url: str | None,
    renditions: tuple[str, ...],
    **flags: Any,
) -> None:
    """Upload IMAGES, publish a request for each, download the results as they complete.

    Takes the same option flags as `cutstream remove`; each --rendition is saved beside
    the image's result as <name>.<n>.<ext>. Exits 1 naming the images that
    failed, 2 if results did not arrive in time.
    """
    from rich.markup import escape

    from schemas.events import ImageFailed
    from streams.client import Client

    options = pop_removal_options(flags)
    outputs = parse_renditions(options, renditions)
    settings = load_settings()
    failures: list[Outcome] = []
    messages = console()
    with progress_bar(messages) as progress:
        bar = progress.add_task("waiting for results", total=len(images))

        def on_outcome(outcome: Outcome) -> None:
            if isinstance(outcome.event, ImageFailed):
                failures.append(outcome)
                error = outcome.event.payload.error
                progress.console.print(
                    failure_line(outcome.source, error.code, error.message), soft_wrap=True
                )
            progress.advance(bar)

        async def submit_all() -> None:
            async with Client(settings) as client:
                await client.submit_files(
                    list(images),
                    output_dir,
                    options,
                    timeout=timeout,
                    account=account,
                    webhook_url=webhook_url,
                    on_outcome=on_outcome,
                    outputs=outputs,
                )

        try:
            asyncio.run(submit_all())
        except CutstreamError as exc:
            progress.stop()
            messages.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
            sys.exit(2)
    done = len(images) - len(failures)
    messages.print(f"{done} done, {len(failures)} failed → {escape(str(output_dir))}")
    if failures:
        names = ", ".join(str(outcome.source) for outcome in failures)
        messages.print(f"failed: {escape(names)}", soft_wrap=True)
        sys.exit(1)
