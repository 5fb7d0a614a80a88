from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.errors import ErrorCode
from schemas.events import (
    RESULT_EVENTS,
    SCHEMA_VERSION,
    ErrorInfo,
    ImageCompleted,
    ImageError,
    ImageFailed,
    ImageRequested,
    ImageResult,
    OutputInfo,
    result_event_id,
)
from schemas.refs import S3Object, UrlInput


def request(**overrides: Any) -> ImageRequested:
    fields: dict[str, Any] = {
        "request_id": "req-1",
        "payload": {"input": {"kind": "s3", "bucket": "inputs", "key": "a/b.jpg"}},
    }
    fields.update(overrides)
    return ImageRequested.model_validate(fields)


def test_request_round_trips_through_json() -> None:
    original = request(
        account="acme",
        trace_id="t-1",
        payload={
            "input": {"kind": "url", "url": "https://images.example/shoe.jpg"},
            "options": {"model": "u2net", "format": "webp"},
            "webhook_url": "https://hooks.example/cutstream",
        },
    )
    again = ImageRequested.model_validate_json(original.model_dump_json())
    assert again == original
    assert again.schema_version == SCHEMA_VERSION
    assert isinstance(again.payload.input, UrlInput)
    assert again.payload.options.model == "u2net"
    assert again.created_at.tzinfo is not None
    assert len(again.event_id) == 32


def test_unknown_fields_from_newer_producers_are_ignored_at_every_level() -> None:
    payload = json.loads(request().model_dump_json())
    payload["future_field"] = {"anything": 1}
    payload["payload"]["future_payload_field"] = True
    payload["payload"]["input"]["future_input_field"] = "x"
    assert ImageRequested.model_validate(payload).request_id == "req-1"


@pytest.mark.parametrize(
    "bad_id", ["", "../etc/passwd", "a/b", " lead", "x" * 129, "-starts-with-dash", "ü"]
)
def test_request_id_must_be_key_safe(bad_id: str) -> None:
    with pytest.raises(ValidationError, match="request_id"):
        request(request_id=bad_id)


def test_account_must_be_key_safe() -> None:
    with pytest.raises(ValidationError, match="account"):
        request(account="../other-tenant")


@pytest.mark.parametrize(
    "bad_input",
    [
        {"kind": "s3", "bucket": "inputs"},
        {"kind": "ftp", "url": "ftp://x/y.jpg"},
        {"kind": "url", "url": "file:///etc/passwd"},
        {"kind": "url", "url": "not a url"},
    ],
)
def test_bad_inputs_are_rejected(bad_input: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="input"):
        request(payload={"input": bad_input})


def test_unknown_option_is_rejected_with_its_name() -> None:
    with pytest.raises(ValidationError, match="colour"):
        request(payload={"input": {"bucket": "inputs", "key": "k"}, "options": {"colour": "red"}})


def test_result_events_are_told_apart_by_type() -> None:
    output = OutputInfo(
        bucket="out", key="acme/r.png", content_type="image/png", size_bytes=10, width=3, height=2
    )
    completed = ImageCompleted(
        request_id="r", payload=ImageResult(outputs=[output], processing_ms=1.5, attempts=1)
    )
    failed = ImageFailed(
        request_id="r",
        payload=ImageError(
            error=ErrorInfo(code=ErrorCode.INVALID_IMAGE_FORMAT, message="bad"), attempts=1
        ),
    )
    parsed_completed = RESULT_EVENTS.validate_json(completed.model_dump_json())
    assert isinstance(parsed_completed, ImageCompleted)
    assert parsed_completed.payload.output.width == 3
    parsed = RESULT_EVENTS.validate_json(failed.model_dump_json())
    assert isinstance(parsed, ImageFailed)
    assert parsed.payload.error.code is ErrorCode.INVALID_IMAGE_FORMAT
    assert (
        json.loads(failed.model_dump_json())["payload"]["error"]["code"] == "invalid_image_format"
    )


def test_result_event_ids_are_deterministic_per_account_and_request() -> None:
    first = result_event_id("acme", "r-1", "completed")
    assert first == result_event_id("acme", "r-1", "completed")
    assert first != result_event_id("other", "r-1", "completed")
    assert first != result_event_id("acme", "r-1", "failed")


def test_s3_object_defaults() -> None:
    assert S3Object(bucket="abc", key="k").kind == "s3"
