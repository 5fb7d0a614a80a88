"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors import Remover
from processors.segmenters import KNOWN_MODELS, ModelRegistry
from streams.config.settings import ModelSettings
from streams.imaging.build import runtime_options
from streams.imaging.modelpull import is_installed


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The configured model directory, with u2netp installed (`make test` pulls it)."""
    settings = ModelSettings()
    if not is_installed(KNOWN_MODELS["u2netp"], settings.dir):
        pytest.fail(
            f"u2netp is not installed in {settings.dir}: run `cutstream models pull u2netp`"
        )
    return settings.dir


@pytest.fixture(scope="session")
def remover(model_dir: Path) -> Remover:
    """A real remover with the real u2netp weights, loaded once per session."""
    return Remover(
        ModelRegistry(model_dir), runtime_options(ModelSettings()), default_model="u2netp"
    )
