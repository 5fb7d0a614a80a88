"""Child processes that never outlive their parent.

Each child runs in its own session (so a terminal's Ctrl-C reaches only the parent, which
then stops the children in order) and, on Linux, asks the kernel to SIGTERM it when the
parent dies (``PR_SET_PDEATHSIG``), so even ``kill -9`` of the parent leaves no orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that ties the child's life to this process (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, not in the child
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


class ManagedProcess:
    """One named child process with its output in a log file (or inherited)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.log_path = log_path
        self._popen: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def start(self) -> None:
        """Start the child. Must be called from the thread that will outlive it (the main
        thread): the kernel's parent-death signal follows the thread that forked."""
        if self._popen is not None:
            raise RuntimeError(f"{self.name} already started")
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.log_path.open("ab")
        self._popen = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT if self._log_file else None,
            start_new_session=True,
            preexec_fn=_die_with_parent_hook(),
        )
        log.debug("started %s (pid %s): %s", self.name, self._popen.pid, " ".join(self.argv))

    def poll(self) -> int | None:
        """The exit code if the child has exited, else ``None``."""
        if self._popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._popen.poll()

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the child's whole process group, if it is still running."""
        if self._popen is not None and self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signum)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for exit; raises :class:`subprocess.TimeoutExpired` after ``timeout``."""
        if self._popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._popen.wait(timeout)

    def stop(self, timeout: float) -> int | None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. Returns the exit code."""
        if self._popen is None:
            return None
        if self._popen.poll() is None:
            self.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s; killing it", self.name, timeout)
                self.send_signal(signal.SIGKILL)
                self._popen.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return self._popen.returncode

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the child's log file, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])
