"""Commands that need the stack, run when it is not there: a short error that says what to
do, not the Kafka client's log and a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from streams.stack.servers import free_port
from tests.images import photo_jpeg


@pytest.mark.parametrize(
    "args",
    [["keys", "create"], ["submit", "{photo}"], ["batch", "status", "b1"], ["dlq", "list"]],
)
def test_a_command_without_a_stack_says_so_in_a_few_lines(
    args: list[str], tmp_path: os.PathLike[str]
) -> None:
    photo = os.path.join(tmp_path, "photo.jpg")
    with open(photo, "wb") as out:
        out.write(photo_jpeg("chelsea"))
    env = {
        **os.environ,
        "CUTSTREAM_STACK__KAFKA_PORT": str(free_port()),  # nothing listens there
        "CUTSTREAM_STACK__S3_PORT": str(free_port()),
    }
    done = subprocess.run(
        [sys.executable, "-m", "streams", *(arg.format(photo=photo) for arg in args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,  # it must give up quickly, not hang
        check=False,
    )
    output = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode != 0
    assert len(output) <= 6, output
    assert "Traceback" not in done.stderr
    assert any("Is the stack running?" in line or "S3" in line for line in output), output
