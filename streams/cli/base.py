"""The ``cutstream`` command group and what every command shares.

Command modules import only click (and the options model, for their flags) at import
time; each command imports what it runs when it runs, so ``cutstream --help`` stays fast.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from schemas.errors import CutstreamError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from streams.config.settings import Settings


def load_settings() -> Settings:
    """The settings from the environment; a clean usage error if they do not validate."""
    from pydantic import ValidationError

    from streams.config.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings:\n{exc}") from exc


def console(stderr: bool = True) -> Console:
    """Rich output: messages and progress on stderr, results (keys, tables) on stdout."""
    from rich.console import Console

    return Console(stderr=stderr)


def progress_bar(output: Console) -> Progress:
    """A progress bar with counts, elapsed time and an ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=output,
    )


def failure_line(source: Path, code: str, message: str) -> str:
    """One failed image, for a progress console."""
    from rich.markup import escape

    return f"[red]failed[/] {escape(str(source))}: {escape(f'[{code}] {message}')}"


def unreachable_kafka(bootstrap: str) -> str:
    """What to say when Kafka does not answer at ``bootstrap``: what to do about it."""
    return (
        f"cannot reach Kafka at {bootstrap}. Is the stack running? Start it with `make run` "
        "(or `.venv/bin/cutstream up`) in another shell, or point CUTSTREAM_KAFKA__"
        "BOOTSTRAP_SERVERS (or CUTSTREAM_STACK__KAFKA_PORT) at yours."
    )


class _Cli(click.Group):
    """The command group: a :class:`CutstreamError` from any command, or Kafka that does
    not answer, becomes one clean error line with what to do and exit code 1, instead of
    a traceback and the Kafka client's own log lines."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CutstreamError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:
            from aiokafka.errors import KafkaConnectionError  # (not at import: --help stays fast)

            if isinstance(exc, KafkaConnectionError):
                bootstrap = load_settings().kafka_bootstrap
                raise click.ClickException(unreachable_kafka(bootstrap)) from exc
            raise


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Log level of this command (workers use CUTSTREAM_RUNTIME__LOG_LEVEL).",
)
def cli(log_level: str) -> None:
    """cutstream: event-driven background removal on Kafka and S3.

    Settings come from CUTSTREAM_* environment variables (see docs/configuration.md).
    """
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if log_level != "debug":
        # The Kafka client logs every failed connection attempt as an error, and warns of
        # clients it could not close; a command says what went wrong in one line instead.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        warnings.filterwarnings("ignore", message="Unclosed AIOKafka", category=ResourceWarning)
