"""The hosted-API shapes from the seeds: same paths, fields, answers and error bodies, so a
client switches by changing its base URL. All of them go through the same pipeline as the
native API (:class:`streams.gateway.service.Gateway`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from schemas.api.seeds import (
    Artwork,
    ArtworkCreate,
    ArtworkError,
    JobAccepted,
    JobsError,
    JobStatusView,
    RembgError,
    RemoveBgError,
    RemoveBgRequest,
    RemoveBgResponse,
    RemoveError,
)
from schemas.events import ImageFailed
from schemas.jobs import JobRecord, JobStatus
from schemas.options import RemovalOptions
from streams.gateway.deps import (
    IMAGE_RESPONSE,
    Account,
    Service,
    estimate_range,
    failure,
    image_response,
    options_from,
    validated_options,
)
from streams.gateway.errors import ApiError
from streams.gateway.inputs import (
    ImageSource,
    checked_url,
    checked_webhook,
    decode_inline,
    missing_image,
    read_upload,
)
from streams.gateway.service import Gateway
from streams.views import artwork

SEED_000_MAX_BYTES = 10 * 1024 * 1024
CREDITS_PER_REMOVAL = 10


def errors(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model} for status in statuses}


async def read_file(upload: UploadFile | None, service: Gateway) -> ImageSource:
    if upload is None:
        raise missing_image("the image as a file")
    return await read_upload(upload, service.settings.limits.max_input_bytes)


# seed 000: JSON in, an output URL out -------------------------------------------------------

remove_bg = APIRouter(tags=["seed 000: /v1/remove-bg"])


@remove_bg.post(
    "/v1/remove-bg",
    response_model=RemoveBgResponse,
    responses=errors(RemoveBgError, 400, 401, 503, 504),
    summary="Remove the background; answers with a link to a transparent PNG",
)
async def remove_bg_v1(
    body: RemoveBgRequest, account: Account, service: Service
) -> RemoveBgResponse:
    if not body.image:
        raise missing_image("image: an https URL or a data URI")
    source: ImageSource
    if body.image.startswith("data:"):
        source = decode_inline(body.image, SEED_000_MAX_BYTES)
    else:
        source = await checked_url(body.image, service.url_policy)
    result = await service.submit_and_wait(account, source, RemovalOptions())
    if isinstance(result, ImageFailed):
        raise failure(result)
    return RemoveBgResponse(
        success=True,
        image_url=service.output_url(result.payload.output, 24 * 3600),
        request_id=result.request_id,
        credits_used=CREDITS_PER_REMOVAL,
    )


# seed 001: async artworks ------------------------------------------------------------------

artworks = APIRouter(tags=["seed 001: /v2/artworks"])


def artwork_of(service: Gateway, record: JobRecord) -> Artwork:
    return artwork(record, service.output_url(record.output) if record.output else None)


@artworks.post(
    "/v2/artworks/remove-background",
    status_code=202,
    response_model=Artwork,
    responses=errors(ArtworkError, 400, 401, 503),
    summary="Remove the background of an image URL (async)",
)
async def create_artwork(body: ArtworkCreate, account: Account, service: Service) -> Artwork:
    if not body.image_url:
        raise missing_image("imageUrl")
    source = await checked_url(body.image_url, service.url_policy)
    webhook = await checked_webhook(body.webhook, service.url_policy)
    output_format = "webp" if body.output_format == "auto" else body.output_format
    options = validated_options({"format": output_format})
    record = await service.submit(
        account, source, options, webhook_url=webhook, webhook_format="artworks"
    )
    return artwork_of(service, record)


@artworks.get(
    "/v2/artworks/{artwork_id}",
    response_model=Artwork,
    responses=errors(ArtworkError, 401, 404),
    summary="Get an artwork",
)
async def get_artwork(artwork_id: str, account: Account, service: Service) -> Artwork:
    return artwork_of(service, await service.job(account, artwork_id))


# seed 002: multipart in, the image out ------------------------------------------------------

remove = APIRouter(tags=["seed 002: /v1/remove"])


@remove.post(
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
    return await image_response(service, await service.submit_and_wait(account, source, options))


# seed 003: async jobs ----------------------------------------------------------------------

jobs_api = APIRouter(tags=["seed 003: /api/v1"])

_JOB_STATUS = {
    JobStatus.ACCEPTED: "processing",
    JobStatus.PROCESSING: "processing",
    JobStatus.SUCCEEDED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "canceled",
}


@jobs_api.post(
    "/api/v1/remove-bg",
    status_code=202,
    response_model=JobAccepted,
    responses=errors(JobsError, 400, 401, 503),
    summary="Submit an image for background removal (async)",
)
async def submit_job(
    account: Account,
    service: Service,
    image_file: Annotated[UploadFile | None, File()] = None,
    image_url: Annotated[str | None, Form()] = None,
    webhook_url: Annotated[str | None, Form()] = None,
) -> JobAccepted:
    if image_file is not None and image_url:
        raise ApiError(400, "invalid_request", "send image_file or image_url, not both")
    source = (
        await checked_url(image_url, service.url_policy)
        if image_url
        else await read_file(image_file, service)
    )
    webhook = await checked_webhook(webhook_url, service.url_policy)
    record = await service.submit(
        account, source, RemovalOptions(), webhook_url=webhook, webhook_format="jobs"
    )
    return JobAccepted(
        job_id=record.request_id,
        created_at=record.created_at,
        estimated_completion_time=estimate_range(await service.estimate_s()),
    )


@jobs_api.get(
    "/api/v1/jobs/{job_id}",
    response_model=JobStatusView,
    response_model_exclude_none=True,
    responses=errors(JobsError, 401, 404),
    summary="Get a job",
)
async def job_status(job_id: str, account: Account, service: Service) -> JobStatusView:
    record = await service.job(account, job_id)
    pending = not record.status.finished
    return JobStatusView(
        job_id=record.request_id,
        status=_JOB_STATUS[record.status],
        created_at=record.created_at,
        completed_at=record.finished_at,
        output_url=service.output_url(record.output) if record.output else None,
        error_message=record.error.message
        if record.error and record.status is JobStatus.FAILED
        else None,
        estimated_completion_time=estimate_range(await service.estimate_s()) if pending else None,
    )


# seed 004: /v2/rembg/ and its effects ------------------------------------------------------

rembg = APIRouter(tags=["seed 004: /v2/rembg"])
REMBG_RESPONSES = {**IMAGE_RESPONSE, **errors(RembgError, 400, 401, 500, 503, 504)}
ImageFile = Annotated[UploadFile | None, File(description="The image file to process.")]


async def rembg_answer(
    service: Gateway, account: str, image: UploadFile | None, **fields: Any
) -> Response:
    source = await read_file(image, service)
    options = options_from(fields)
    return await image_response(service, await service.submit_and_wait(account, source, options))


@rembg.post(
    "/v2/rembg/", response_class=Response, responses=REMBG_RESPONSES, summary="Remove background"
)
async def rembg_remove(account: Account, service: Service, image: ImageFile = None) -> Response:
    return await rembg_answer(service, account, image)


@rembg.post(
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
    return await rembg_answer(service, account, image, bg_blur=radius)


@rembg.post(
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
    return await rembg_answer(service, account, image, bg_color=bgcolor)


@rembg.post(
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
    return await rembg_answer(service, account, image, bg_gradient=[top_color, bottom_color])


@rembg.post(
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
        shadow=True,
        shadow_color=shadow_color,
        shadow_offset=offset.strip().strip("()"),
        shadow_blur=blur_radius,
    )


ROUTERS = (remove_bg, artworks, remove, jobs_api, rembg)
