"""The checked-in JSON Schemas match the models, and real events validate against them."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from schemas.errors import FAILURE_CODES, ErrorCode
from schemas.events import ErrorInfo, ImageRequested
from schemas.export import JSON_DIR, render, schemas


@pytest.mark.parametrize("filename", sorted(schemas()))
def test_checked_in_schema_is_current(filename: str) -> None:
    current = (JSON_DIR / filename).read_text()
    assert current == render(schemas()[filename]), "stale: run `make docs`"


def test_a_request_validates_against_its_schema() -> None:
    schema = json.loads((JSON_DIR / "image.requested.schema.json").read_text())
    event = ImageRequested.model_validate(
        {
            "request_id": "r1",
            "payload": {
                "input": {"kind": "url", "url": "https://images.example/a.jpg"},
                "options": {"format": "webp", "bg_color": "#ffffff", "crop": True},
            },
        }
    )
    jsonschema.validate(json.loads(event.model_dump_json()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"request_id": "r1"}, schema)  # no payload


def schema_of(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((JSON_DIR / f"{name}.schema.json").read_text())
    return document


ENVELOPE = {"schema_version", "type", "event_id", "request_id", "account", "created_at"}


@pytest.mark.parametrize("name", ["image.completed", "image.failed", "dead_letter"])
def test_what_cutstream_emits_promises_every_envelope_field(name: str) -> None:
    assert set(schema_of(name)["required"]) >= ENVELOPE


def test_a_failed_event_names_only_the_codes_a_request_can_fail_with() -> None:
    codes = set(schema_of("image.failed")["$defs"]["ErrorInfo"]["properties"]["code"]["enum"])
    assert codes == set(FAILURE_CODES)
    assert {"webhook_failed", "timeout", "not_found"}.isdisjoint(codes)
    with pytest.raises(ValidationError):
        ErrorInfo(code=ErrorCode.WEBHOOK_FAILED, message="not a request failure")


@pytest.mark.parametrize(
    ("source", "valid"),
    [
        ({"bucket": "cutstream-inputs", "key": "uploads/a/r/x.jpg"}, True),
        ({"url": "https://images.example/a.jpg"}, True),
        ({"kind": "url", "url": "https://images.example/a.jpg"}, True),
        (
            {"bucket": "cutstream-inputs", "key": "a.jpg", "url": "https://images.example/a.jpg"},
            False,
        ),
        ({"kind": "url", "url": "https://images.example/a.jpg", "key": "a.jpg"}, False),
        ({"kind": "s3", "url": "https://images.example/a.jpg"}, False),
    ],
)
def test_the_worker_and_the_schema_agree_on_inputs(source: dict[str, str], valid: bool) -> None:
    event = {"request_id": "r1", "payload": {"input": source}}
    try:
        ImageRequested.model_validate(event)
        model_accepts = True
    except ValidationError:
        model_accepts = False
    try:
        jsonschema.validate(event, schema_of("image.requested"))
        schema_accepts = True
    except jsonschema.ValidationError:
        schema_accepts = False
    assert (model_accepts, schema_accepts) == (valid, valid)


def test_a_future_major_is_outside_the_request_schema() -> None:
    event = {"schema_version": 2, "request_id": "r1", "payload": {"input": {"url": "https://a/b"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(event, schema_of("image.requested"))


@pytest.mark.parametrize("filename", sorted(schemas()))
def test_schemas_say_their_draft(filename: str) -> None:
    """ajv needs its 2020 build for these (docs/events.md); strict mode itself is checked by
    running the documented snippet in Node (tests/integration/test_other_languages.py)."""
    schema = json.loads((JSON_DIR / filename).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
