"""The removal options: one model shared by every entry point (events, CLI, HTTP)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RemovalOptions(BaseModel):
    """What to do with the cutout once the subject has been segmented."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = Field(
        default=None,
        description="Segmentation model name (see `cutstream models list`); "
        "unset means the worker's default model.",
        examples=["u2netp", "u2net"],
    )
    format: Literal["png"] = Field(
        default="png", description="Output encoding. PNG keeps the alpha channel."
    )
