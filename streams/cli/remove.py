"""``cutstream remove``: local images through the image core, no Kafka or S3."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from streams.cli.base import cli, console, failure_line, load_settings, progress_bar
from streams.cli.options import pop_removal_options, removal_option_flags


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
    from rich.markup import escape

    from processors.decode import decode_rgba
    from schemas.errors import CutstreamError
    from streams.imaging.build import build_remover
    from streams.local import plan, run

    backdrop_file = local_backdrop(flags)
    options = pop_removal_options(flags)
    settings = load_settings()
    tasks = plan(list(inputs), output_dir, options)
    todo = [task for task in tasks if overwrite or not task.target.exists()]
    skipped = len(tasks) - len(todo)
    remover = build_remover(settings)
    remover.segmenter(options.model)  # fail once, up front, on a missing model
    backdrop = None
    if backdrop_file is not None:
        try:
            backdrop = decode_rgba(backdrop_file.read_bytes(), remover.limits)
        except (OSError, CutstreamError) as exc:
            raise click.BadParameter(str(exc), param_hint="--bg-image") from None
    failures = []
    messages = console()
    with progress_bar(messages) as progress:
        bar = progress.add_task("removing backgrounds", total=len(todo))
        for outcome in run(remover, todo, options, threads=threads, backdrop=backdrop):
            if outcome.error is not None:
                failures.append(outcome)
                error = outcome.error
                progress.console.print(failure_line(outcome.task.source, error.code, error.message))
            progress.advance(bar)
    done = len(todo) - len(failures)
    messages.print(
        f"{done} done, {skipped} skipped (already there), {len(failures)} failed"
        f" → {escape(str(output_dir))}"
    )
    if failures:
        sys.exit(1)


LOCAL_BACKDROP = "s3://local/bg_image"
"""What ``--bg-image FILE`` puts in the options: it names the file, which is read here and
never fetched."""


def local_backdrop(flags: dict[str, Any]) -> Path | None:
    """The local file ``--bg-image`` names (its flag replaced by :data:`LOCAL_BACKDROP`):
    `cutstream remove` runs without the service, so its background image is a file."""
    given = flags.get("bg_image")
    if given is None:
        return None
    path = Path(given)
    if not path.is_file():
        raise click.BadParameter(
            f"{given}: no such file (cutstream remove takes a local file; "
            "`cutstream submit` and the API also take URLs and s3:// references)",
            param_hint="--bg-image",
        )
    flags["bg_image"] = LOCAL_BACKDROP
    return path
