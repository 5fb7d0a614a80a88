"""Build the image core from settings (the one place settings meet ``processors``)."""

from __future__ import annotations

from processors import Remover
from processors.segmenters import ModelRegistry
from streams.config.settings import Settings


def build_registry(settings: Settings) -> ModelRegistry:
    """The catalog plus the operator's custom models."""
    extra = {name: model.spec(name) for name, model in settings.models.custom.items()}
    return ModelRegistry(settings.models.dir, extra)


def build_remover(settings: Settings) -> Remover:
    """A remover configured by ``settings`` (models are loaded on first use)."""
    return Remover(
        build_registry(settings),
        settings.models.runtime(),
        default_model=settings.models.default,
        limits=settings.limits.decode_limits(),
        inference_slots=settings.models.inference_slots,
    )
