"""What several compatible shapes share."""

from __future__ import annotations

from typing import Any

from fastapi import UploadFile
from pydantic import BaseModel

from streams.gateway.inputs import ImageSource, missing_image, read_upload
from streams.gateway.service import Gateway


def errors(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``statuses``, each with the shape's error body."""
    return {status: {"model": model} for status in statuses}


async def read_file(upload: UploadFile | None, service: Gateway) -> ImageSource:
    """The uploaded image file, checked; a missing file is ``missing_image``."""
    if upload is None:
        raise missing_image("the image as a file")
    return await read_upload(upload, service.settings.limits.max_input_bytes)
