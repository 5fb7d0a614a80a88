"""The rembg shape: ``POST /v2/rembg/`` and its effects (blur, color, gradient, shadow),
multipart in, the image out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from schemas.api.compat import RembgError
from streams.gateway.deps import IMAGE_RESPONSE, Account, Service, image_response, options_from
from streams.gateway.errors import ApiError
from streams.gateway.routes.compat.common import errors, read_file
from streams.gateway.service import Gateway

router = APIRouter(tags=["rembg: /v2/rembg"])
REMBG_RESPONSES = {**IMAGE_RESPONSE, **errors(RembgError, 400, 401, 500, 503, 504)}
ImageFile = Annotated[UploadFile | None, File(description="The image file to process.")]


async def rembg_answer(
    service: Gateway, account: str, image: UploadFile | None, operation: str, **fields: Any
) -> Response:
    source = await read_file(image, service)
    options = options_from(fields)
    result = await service.submit_and_wait(
        account, source, options, shape="rembg", operation=operation
    )
    return await image_response(service, result)


@router.post(
    "/v2/rembg/", response_class=Response, responses=REMBG_RESPONSES, summary="Remove background"
)
async def rembg_remove(account: Account, service: Service, image: ImageFile = None) -> Response:
    return await rembg_answer(service, account, image, "remove")


@router.post(
    "/v2/rembg/blur/", response_class=Response, responses=REMBG_RESPONSES, summary="Background blur"
)
async def rembg_blur(
    account: Account,
    service: Service,
    image: ImageFile = None,
    radius: Annotated[int | None, Form(description="Blur radius (max 50).")] = None,
) -> Response:
    if radius is None:
        raise ApiError(400, "invalid_request", "radius is required")
    return await rembg_answer(service, account, image, "blur", bg_blur=radius)


@router.post(
    "/v2/rembg/color/",
    response_class=Response,
    responses=REMBG_RESPONSES,
    summary="Background color",
)
async def rembg_color(
    account: Account,
    service: Service,
    image: ImageFile = None,
    bgcolor: Annotated[str | None, Form(description="e.g. (255, 140, 0, 255)")] = None,
) -> Response:
    if not bgcolor:
        raise ApiError(400, "invalid_request", "bgcolor is required")
    return await rembg_answer(service, account, image, "color", bg_color=bgcolor)


@router.post(
    "/v2/rembg/gradient/",
    response_class=Response,
    responses=REMBG_RESPONSES,
    summary="Background gradient",
)
async def rembg_gradient(
    account: Account,
    service: Service,
    image: ImageFile = None,
    top_color: Annotated[str | None, Form(description="e.g. (255, 140, 0, 255)")] = None,
    bottom_color: Annotated[str | None, Form(description="e.g. (229, 46, 113, 255)")] = None,
) -> Response:
    if not top_color or not bottom_color:
        raise ApiError(400, "invalid_request", "top_color and bottom_color are required")
    return await rembg_answer(
        service, account, image, "gradient", bg_gradient=[top_color, bottom_color]
    )


@router.post(
    "/v2/rembg/shadow/",
    response_class=Response,
    responses=REMBG_RESPONSES,
    summary="Subject shadow",
)
async def rembg_shadow(
    account: Account,
    service: Service,
    image: ImageFile = None,
    shadow_color: Annotated[str | None, Form(description="RGB/RGBA, e.g. (0, 0, 0, 120)")] = None,
    offset: Annotated[str | None, Form(description="(x, y) in pixels")] = None,
    blur_radius: Annotated[int | None, Form()] = None,
) -> Response:
    if not shadow_color or not offset or blur_radius is None:
        raise ApiError(400, "invalid_request", "shadow_color, offset and blur_radius are required")
    return await rembg_answer(
        service,
        account,
        image,
        "shadow",
        shadow=True,
        shadow_color=shadow_color,
        shadow_offset=offset.strip().strip("()"),
        shadow_blur=blur_radius,
    )
