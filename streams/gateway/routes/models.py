"""``GET /v1/models``: the models installed here, for callers and the console's menu;
``GET /v1/presets``: the marketplace presets and the options each stands for.

Installed means the model's file is in ``models.dir`` where the gateway runs — the same
image as the workers in k8s/, the same machine under ``make run``. Workers verify each
file's checksum when they load it; a request naming a model listed nowhere still gets
``unknown_model`` or ``model_not_installed`` from them. No key needed: it lists names.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from processors.segmenters.catalog import KNOWN_MODELS, QuantizedSource
from schemas.api.models import ModelView, PresetView
from schemas.options import RemovalOptions
from schemas.presets import RULES
from streams.gateway.deps import Service

router = APIRouter(tags=["models and presets"])


def _present(path: Path, made: bool) -> bool:
    """The file is there (and, for a model made at pull, its checksum was written)."""
    return path.is_file() and (not made or path.with_name(path.name + ".sha256").is_file())


@router.get("/v1/models", response_model=list[ModelView], summary="Models installed here")
async def list_models(service: Service) -> list[ModelView]:
    """The models a request may name here, the default first."""
    models = service.settings.models
    views = [
        ModelView(
            name=spec.name,
            family=spec.family,
            description=spec.description,
            licence=spec.licence,
            default=spec.name == models.default,
        )
        for spec in KNOWN_MODELS.values()
        if spec.name not in models.custom
        and _present(models.dir / spec.file, isinstance(spec.source, QuantizedSource))
    ]
    views += [
        ModelView(
            name=name,
            family=custom.family,
            description="registered by the operator",
            licence="unknown",
            default=name == models.default,
        )
        for name, custom in models.custom.items()
        if custom.path.is_file()
    ]
    return sorted(views, key=lambda view: not view.default)


@router.get("/v1/presets", response_model=list[PresetView], summary="Marketplace presets")
async def list_presets() -> list[PresetView]:
    """Every preset with the options it expands to (normalised as a request's options
    are: colours as hex, lengths as text). No key needed."""
    views = []
    for preset, rules in RULES.items():
        expanded = RemovalOptions(preset=preset).model_dump(mode="json")
        views.append(
            PresetView(
                name=preset.value,
                options={name: expanded[name] for name in rules.options},
                source=rules.source,
                rules=rules.why,
            )
        )
    return views
