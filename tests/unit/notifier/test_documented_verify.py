"""docs/webhooks.md's by-hand `verify` (Node.js), run as written against what the
notifier signs: a signed delivery passes, a tampered or unsigned one is refused, and a
request without the headers returns false instead of throwing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from streams.config.groups import DEV_WEBHOOK_SECRET
from streams.notifier.signing import signed_headers

DOCS = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def documented_snippet() -> str:
    text = DOCS.read_text()
    section = text.split("Any language, by hand", 1)[1]
    return section.split("```js\n", 1)[1].split("```", 1)[0]


def run_verify(body: bytes, headers: dict[str, str], secret: str) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: `make test` installs it (apt-get install nodejs)")
    script = (
        documented_snippet()
        + f"\nconst body = Buffer.from({json.dumps(body.decode())});"
        + f"\nconsole.log(String(verify(body, {json.dumps(headers)}, {json.dumps(secret)})));\n"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr  # it never throws
    return done.stdout.strip()


def test_the_documented_verify_accepts_a_signed_delivery_and_refuses_the_rest() -> None:
    secret = DEV_WEBHOOK_SECRET.get_secret_value()
    body = b'{"type": "image.completed", "request_id": "r1"}'
    headers = signed_headers([secret], "msg_1", body)
    assert run_verify(body, headers, secret) == "true"
    assert run_verify(body + b" ", headers, secret) == "false"
    assert run_verify(body, {}, secret) == "false"  # no headers at all: no crash
    assert run_verify(body, {"webhook-id": "msg_1"}, secret) == "false"
