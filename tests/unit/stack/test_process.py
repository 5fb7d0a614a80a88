"""Managed child processes stop cleanly and die with their parent."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from streams.stack.process import ManagedProcess


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_stop_terminates_and_reports_exit_code(tmp_path: Path) -> None:
    child = ManagedProcess("sleeper", ["sleep", "60"], log_path=tmp_path / "sleeper.log")
    child.start()
    assert child.poll() is None
    code = child.stop(timeout=5)
    assert code == -15
    assert child.pid is not None
    assert not alive(child.pid)


def test_stop_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    child = ManagedProcess("stubborn", [sys.executable, "-c", script], log_path=tmp_path / "s.log")
    child.start()
    deadline = time.monotonic() + 10
    while "up" not in child.log_tail() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.stop(timeout=0.5) == -9


def test_child_dies_when_its_parent_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent_code = textwrap.dedent(
        f"""
        import time
        from streams.stack.process import ManagedProcess
        child = ManagedProcess("orphan-candidate", ["sleep", "120"])
        child.start()
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(120)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        deadline = time.monotonic() + 20
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "parent never started its child"
            time.sleep(0.05)
        child_pid = int(pid_file.read_text())
        assert alive(child_pid)
        parent.kill()  # SIGKILL: no cleanup code runs in the parent
        parent.wait()
        assert wait_gone(child_pid), "child outlived its SIGKILLed parent"
    finally:
        parent.kill()
        parent.wait()
