"""The ``cutstream`` command line: the group in :mod:`streams.cli.base`, one module per
command family."""

from __future__ import annotations

from streams.cli import accounts, batch, dlq, keys, models, remove, services, submit
from streams.cli.base import cli

__all__ = [
    "accounts",
    "batch",
    "cli",
    "dlq",
    "keys",
    "main",
    "models",
    "remove",
    "services",
    "submit",
]


def main() -> None:
    cli(prog_name="cutstream")
