from __future__ import annotations

from pathlib import Path

from schemas.options import RemovalOptions
from streams.config.docs import render, render_options
from streams.config.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def test_configuration_reference_is_current() -> None:
    current = (ROOT / "docs" / "configuration.md").read_text()
    assert current == render(), "docs/configuration.md is stale: run `make docs`"


def test_options_reference_is_current() -> None:
    current = (ROOT / "docs" / "options.md").read_text()
    assert current == render_options(), "docs/options.md is stale: run `make docs`"


def test_every_option_is_described() -> None:
    page = render_options()
    for name, field in RemovalOptions.model_fields.items():
        assert field.description, f"option {name} has no description"
        assert f"`--{name.replace('_', '-')}`" in page


def test_every_setting_is_described_and_documented() -> None:
    page = render()
    for group_name, group in Settings.model_fields.items():
        annotation = group.annotation
        fields = getattr(annotation, "model_fields", {group_name: group})
        for name, field in fields.items():
            assert field.description, f"{group_name}.{name} has no description"
            assert f"__{name.upper()}`" in page or f"_{name.upper()}`" in page
