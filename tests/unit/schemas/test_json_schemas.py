"""The checked-in JSON Schemas match the models, and real events validate against them."""

from __future__ import annotations

import json

import jsonschema
import pytest

from schemas.events import ImageRequested
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
