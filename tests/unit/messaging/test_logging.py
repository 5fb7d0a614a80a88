"""Worker logs as JSON lines carry the request id and friends."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from streams.config.settings import Settings
from streams.messaging.faustkit import logging_config


def test_text_format_keeps_fausts_logging() -> None:
    assert logging_config(Settings(runtime={"log_format": "text"})) is None


def test_json_lines_carry_request_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    config = logging_config(Settings(runtime={"log_format": "json", "log_level": "info"}))
    assert config is not None
    stream = io.StringIO()
    config["handlers"]["stderr"]["stream"] = stream
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logging.config.dictConfig(config)
        logging.getLogger("streams.worker.handling").info(
            "request %s completed", "r-1", extra={"request_id": "r-1", "attempt": 2}
        )
    finally:
        root.handlers[:], root.level = saved
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "request r-1 completed"
    assert line["request_id"] == "r-1"
    assert line["attempt"] == 2
    assert line["level"] == "INFO"
    assert line["logger"] == "streams.worker.handling"
