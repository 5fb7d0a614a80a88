"""Process and port helpers shared by the integration fixtures and tests."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from streams.config.settings import Settings
from streams.stack import ManagedProcess
from streams.stack.servers import free_port
from streams.stack.supervisor import service_process

__all__ = [
    "SERVER_LOGS",
    "cutstream",
    "error_lines",
    "free_port",
    "start_service",
]


def start_service(settings: Settings, command: str, log_dir: Path) -> ManagedProcess:
    """A running `python -m streams <command>` process with ``settings``, logging into
    ``log_dir``."""
    process = service_process(settings, command, log_dir / f"{command}-{uuid.uuid4().hex[:6]}.log")
    process.start()
    return process


def cutstream(
    settings: Settings, *args: str, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``cutstream ARGS`` as a user would (a process of its own) with ``settings``
    (and ``env``, e.g. the terminal's width)."""
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        env={**settings.to_env(), "PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


SERVER_LOGS = ("kafka.log", "kafka-log.log", "s3.log")
"""The embedded servers' logs: broker, its log store, S3 server."""


def error_lines(log_dir: Path, since: dict[str, int]) -> dict[str, list[str]]:
    """ERROR lines the embedded servers logged after ``since`` (bytes into each log)."""
    found = {}
    for name in SERVER_LOGS:
        with (log_dir / name).open("rb") as log:
            log.seek(since.get(name, 0))
            lines = log.read().decode(errors="replace").splitlines()
        found[name] = [line for line in lines if "ERROR" in line]
    return found
