"""Body of ``GET /v1/models``: the models a request may name on this service."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ModelView(BaseModel):
    """One model installed where the gateway runs (the workers' image, in k8s/)."""

    name: str = Field(description="What `options.model` names.")
    family: str
    description: str
    licence: str
    default: bool = Field(description="Whether a request that names no model gets it.")
