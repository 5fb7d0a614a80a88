from __future__ import annotations

import json
from datetime import datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from schemas import (
    SCHEMA_VERSION,
    ErrorCode,
    ErrorInfo,
    ImageCompleted,
    ImageFailed,
    ImageRequested,
    ResultEvent,
    S3Object,
)


def request(**overrides: object) -> ImageRequested:
    fields: dict[str, object] = {
        "request_id": "req-1",
        "input": {"bucket": "inputs", "key": "a/b.jpg"},
    }
    fields.update(overrides)
    return ImageRequested.model_validate(fields)


def test_request_round_trips_through_json() -> None:
    original = request(options={"model": "u2net"}, account="acme", trace_id="t-1")
    again = ImageRequested.model_validate_json(original.model_dump_json())
    assert again == original
    assert again.schema_version == SCHEMA_VERSION
    assert again.options.model == "u2net"
    assert again.created_at.tzinfo is not None


def test_unknown_fields_from_newer_producers_are_ignored() -> None:
    payload = json.loads(request().model_dump_json())
    payload["future_field"] = {"anything": 1}
    payload["input"]["future_input_field"] = True
    parsed = ImageRequested.model_validate(payload)
    assert parsed.request_id == "req-1"


@pytest.mark.parametrize(
    "bad_id", ["", "../etc/passwd", "a/b", " lead", "x" * 129, "-starts-with-dash", "ü"]
)
def test_request_id_must_be_key_safe(bad_id: str) -> None:
    with pytest.raises(ValidationError, match="request_id"):
        request(request_id=bad_id)


def test_unknown_option_is_rejected_with_its_name() -> None:
    with pytest.raises(ValidationError, match="colour"):
        request(options={"colour": "red"})


def test_input_is_required() -> None:
    with pytest.raises(ValidationError, match="input"):
        ImageRequested.model_validate({"request_id": "req-1"})


def test_result_events_are_told_apart_by_type() -> None:
    adapter: TypeAdapter[ImageCompleted | ImageFailed] = TypeAdapter(ResultEvent)
    completed = ImageCompleted(
        request_id="r",
        output=S3Object(bucket="out", key="r.png"),
        content_type="image/png",
        width=3,
        height=2,
        processing_ms=1.5,
    )
    failed = ImageFailed(
        request_id="r", error=ErrorInfo(code=ErrorCode.INVALID_IMAGE_FORMAT, message="bad")
    )
    assert isinstance(adapter.validate_json(completed.model_dump_json()), ImageCompleted)
    parsed = adapter.validate_json(failed.model_dump_json())
    assert isinstance(parsed, ImageFailed)
    assert parsed.error.code is ErrorCode.INVALID_IMAGE_FORMAT
    assert json.loads(failed.model_dump_json())["error"]["code"] == "invalid_image_format"
    assert isinstance(parsed.failed_at, datetime)
