from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.colors import RGBA
from schemas.events import ImageRequest, ImageRequested
from schemas.geometry import Length
from schemas.options import Channels, OutputFormat, RemovalOptions, SizePreset
from schemas.refs import UPLOADS_CONTEXT, UploadRef


def test_defaults_are_a_transparent_full_size_png() -> None:
    options = RemovalOptions()
    assert options.format is OutputFormat.PNG
    assert options.channels is Channels.RGBA
    assert options.size is SizePreset.FULL
    assert options.background is None
    assert not options.flattened
    assert not options.crop


@pytest.mark.parametrize(
    ("preset", "limit"),
    [("preview", 256), ("small", 512), ("medium", 1024), ("large", 2048), ("full", None)],
)
def test_size_presets(preset: str, limit: int | None) -> None:
    assert RemovalOptions(size=preset).size.max_dimension == limit


def test_auto_is_webp_and_jpeg_is_an_alias() -> None:
    assert OutputFormat.AUTO.resolved() is OutputFormat.WEBP
    assert RemovalOptions(format="jpeg").format is OutputFormat.JPG


def test_jpg_and_rgb_are_flattened() -> None:
    assert RemovalOptions(format="jpg").flattened
    assert RemovalOptions(channels="rgb").flattened
    assert not RemovalOptions(format="jpg", channels="alpha").flattened


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", Length(0, "px")),
        (20, Length(20, "px")),
        ("20px", Length(20, "px")),
        ("12.5%", Length(12.5, "%")),
    ],
)
def test_crop_margin_forms(text: object, expected: Length) -> None:
    options = RemovalOptions.model_validate({"crop": True, "crop_margin": text})
    assert options.crop_margin == expected


def test_margin_in_pixels() -> None:
    assert Length(10, "%").pixels(200, 100) == (20, 10)
    assert Length(7, "px").pixels(200, 100) == (7, 7)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"format": "gif"}, "format"),
        ({"channels": "cmyk"}, "channels"),
        ({"size": "huge"}, "size"),
        ({"bg_color": "not-a-colour"}, "bg_color"),
        ({"bg_blur": 0}, "bg_blur"),
        ({"bg_blur": 51}, "bg_blur"),
        ({"bg_gradient": ["red"]}, "bg_gradient"),
        ({"shadow": True, "shadow_blur": 101}, "shadow_blur"),
        ({"crop": True, "crop_margin": "501px"}, "crop_margin"),
        ({"crop": True, "crop_margin": "51%"}, "crop_margin"),
        ({"crop": True, "crop_margin": "-3"}, "crop_margin"),
        ({"bg_color": "red", "bg_blur": 5}, "bg_blur"),
        ({"bg_blur": 5, "bg_gradient": ["red", "blue"]}, "bg_gradient"),
        ({"channels": "alpha", "bg_color": "white"}, "bg_color"),
        ({"channels": "alpha", "shadow": True}, "shadow"),
        ({"shadow_offset": [5, 5]}, "shadow_offset"),
        ({"shadow_color": "red"}, "shadow_color"),
        ({"crop_margin": "10px"}, "crop_margin"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_values_and_combinations_name_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RemovalOptions.model_validate(fields)
    locations = [error["loc"][0] for error in caught.value.errors()]
    assert field in locations, caught.value.errors()


def test_everything_round_trips_through_json() -> None:
    options = RemovalOptions.model_validate(
        {
            "model": "u2net",
            "format": "webp",
            "bg_gradient": ["#ff8c00", "(229, 46, 113, 255)"],
            "shadow": True,
            "shadow_color": "rgba(0,0,0,0.4)",
            "shadow_offset": [4, -6],
            "size": "medium",
            "crop": True,
            "crop_margin": "5%",
        }
    )
    dumped = options.model_dump(mode="json")
    assert dumped["bg_gradient"] == ["#ff8c00ff", "#e52e71ff"]
    assert dumped["crop_margin"] == "5%"
    assert RemovalOptions.model_validate_json(options.model_dump_json()) == options
    assert (
        RemovalOptions.model_validate_json(RemovalOptions().model_dump_json()) == RemovalOptions()
    )
    assert options.bg_gradient == (RGBA(255, 140, 0, 255), RGBA(229, 46, 113, 255))


def test_a_model_name_is_short_and_plain() -> None:
    assert RemovalOptions(model="isnet-general-use").model == "isnet-general-use"
    for name in ("x" * 65, "x" * 1_100_000, "../u2net", "u2net onnx", ""):
        with pytest.raises(ValidationError):
            RemovalOptions(model=name)


def test_an_upload_reference_is_only_for_the_gateways_parsing() -> None:
    upload = {"bg_image": {"kind": "upload", "part": "bg_image"}}
    with pytest.raises(ValidationError, match="exists only in an HTTP request"):
        RemovalOptions.model_validate(upload)
    event = {"input": {"url": "https://images.example/a.jpg"}, "options": upload}
    with pytest.raises(ValidationError, match="exists only in an HTTP request"):
        ImageRequest.model_validate(event)
    parsed = RemovalOptions.model_validate(upload, context={UPLOADS_CONTEXT: True})
    assert parsed.bg_image == UploadRef(part="bg_image")
    assert "UploadRef" not in json.dumps(ImageRequested.model_json_schema())  # not in events
