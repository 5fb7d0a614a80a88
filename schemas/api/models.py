"""Bodies of ``GET /v1/models`` and ``GET /v1/presets``: the models a request may name
on this service, and the marketplace presets."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ModelView(BaseModel):
    """One model installed where the gateway runs (the workers' image, in k8s/)."""

    name: str = Field(description="What `options.model` names.")
    family: str
    description: str
    licence: str
    default: bool = Field(description="Whether a request that names no model gets it.")


class PresetView(BaseModel):
    """A marketplace preset: the options it stands for and where its rules come from."""

    name: str = Field(description="What `options.preset` names.")
    options: dict[str, Any] = Field(
        description="The options it expands to, as a request would send them; any option "
        "given with the preset wins."
    )
    source: str = Field(description="Where the channel publishes its image rules.")
    rules: str = Field(description="What the rules say, and which values are ours.")
