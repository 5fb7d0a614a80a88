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
    "RCLONE_OPEN_ERRORS",
    "SERVER_LOGS",
    "cutstream",
    "error_lines",
    "free_port",
    "log_sizes",
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


SERVER_LOGS = ("kafka.log", "kafka-log.log", "s3.log", "s3-gate.log")
"""The embedded servers' logs: broker, its log store, S3 server, gate."""


def log_sizes(log_dir: Path) -> dict[str, int]:
    return {name: (log_dir / name).stat().st_size for name in SERVER_LOGS}


RCLONE_OPEN_ERRORS = (
    "corrupted on transfer: md5 hashes differ",
    "wrote more than the declared Content-Length",
)
"""rclone's ERROR lines the session's stack still shows, open in issue 24's notes: a GET
answered with a stale length and checksum, twice in a whole suite (03:35 and 03:38 of one
run), not reproduced apart since the gate gave each key one request at a time (80 torn
reads in 5,801 before)."""


def error_lines(
    log_dir: Path, since: dict[str, int], allowed: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """ERROR lines the embedded servers logged after ``since`` (bytes into each log), but
    those containing one of ``allowed``."""
    found = {}
    for name in SERVER_LOGS:
        with (log_dir / name).open("rb") as log:
            log.seek(since.get(name, 0))
            lines = log.read().decode(errors="replace").splitlines()
        found[name] = [
            line for line in lines if "ERROR" in line and not any(a in line for a in allowed)
        ]
    return found
