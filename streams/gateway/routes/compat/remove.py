"""The multipart remove shape: ``POST /v1/remove`` takes a file and answers with the image."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from schemas.api.compat import RemoveError
from streams.gateway.deps import IMAGE_RESPONSE, Account, Service, image_response, options_from
from streams.gateway.routes.compat.common import errors, read_file

router = APIRouter(tags=["multipart remove: /v1/remove"])


@router.post(
    "/v1/remove",
    response_class=Response,
    responses={**IMAGE_RESPONSE, **errors(RemoveError, 400, 401, 500, 503, 504)},
    summary="Remove the background and answer with the image",
)
async def remove_v1(
    account: Account,
    service: Service,
    image: Annotated[UploadFile | None, File(description="JPEG, PNG or WebP, up to 20 MB")] = None,
    format: Annotated[str | None, Form()] = None,
    channels: Annotated[str | None, Form(description="rgba or rgb")] = None,
    bg_color: Annotated[str | None, Form(description="#ffffff, rgb(…), white…")] = None,
    size: Annotated[str | None, Form(description="preview, small, medium, large, full")] = None,
    crop: Annotated[bool, Form()] = False,
) -> Response:
    source = await read_file(image, service)
    options = options_from(
        {"format": format, "channels": channels, "bg_color": bg_color, "size": size}
        | ({"crop": True} if crop else {})
    )
    result = await service.submit_and_wait(account, source, options, shape="remove")
    return await image_response(service, result)
