"""The native API: ``/v1/jobs`` (async, poll, cancel) and ``/v1/remove-background`` (sync).

Both take JSON (``image_url``, ``image_base64`` / a data URI, or ``image`` = an object
reference) or ``multipart/form-data`` (an ``image`` file, or the same fields as form
fields); options are the fields of the options model, at the top level of a form or under
``options`` in JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from schemas.api.native import (
    ApiErrorBody,
    ErrorView,
    JobCreate,
    JobView,
    RenditionView,
    WebhookAttemptView,
)
from schemas.events import OutputInfo
from schemas.jobs import JobRecord, JobStatus
from schemas.options import RemovalOptions
from schemas.refs import UploadRef, UrlInput
from streams.gateway.deps import (
    IMAGE_RESPONSE,
    Account,
    Service,
    image_response,
    invalid_request,
    json_list_field,
    options_from,
)
from streams.gateway.errors import ApiError
from streams.gateway.inputs import (
    ImageSource,
    Upload,
    checked_url,
    checked_webhook,
    decode_inline,
    missing_image,
    read_upload,
)
from streams.gateway.service import Gateway

router = APIRouter(tags=["native"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ApiErrorBody, "description": description}
    for status, description in (
        (400, "Invalid request, image or option (the code says which)"),
        (401, "Missing or invalid API key"),
        (413, "Image too large"),
        (503, "Cannot queue the job right now"),
    )
}

_FORM_FIELDS: dict[str, Any] = {
    "image": {"type": "string", "format": "binary", "description": "The image file."},
    "image_url": {"type": "string"},
    "image_base64": {"type": "string"},
    "webhook_url": {"type": "string"},
    "request_id": {"type": "string"},
    "outputs": {"type": "string", "description": "The renditions, as a JSON list."},
    **{name: {"type": "string"} for name in RemovalOptions.model_fields},
    "bg_image": {
        "type": "string",
        "description": "A background image: a file, an https URL or s3://bucket/key.",
    },
}
REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobCreate"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": _FORM_FIELDS}},
        },
    }
}


@dataclass(frozen=True)
class ParsedJob:
    """A native request: the image, the rest, and an uploaded background image."""

    source: ImageSource
    job: JobCreate
    backdrop: Upload | None = None


async def parse_job(request: Request, service: Gateway) -> ParsedJob:
    """The image source and the rest of a native request, JSON or multipart."""
    limit = service.settings.limits.max_input_bytes
    content_type = request.headers.get("content-type", "")
    backdrop = None
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        unknown = sorted(set(form.keys()) - _FORM_FIELDS.keys())
        if unknown:  # as JSON bodies do: a misspelt option must not be ignored silently
            raise ApiError(
                400, "invalid_request", f"unknown form field(s): {', '.join(unknown)[:200]}"
            )
        upload = form.get("image")
        if isinstance(background := form.get("bg_image"), UploadFile):
            backdrop = await read_upload(background, limit)
        fields: dict[str, Any] = {
            key: form.getlist(key) if len(form.getlist(key)) > 1 else value
            for key, value in form.items()
            if not isinstance(value, UploadFile)
        }
        if backdrop is not None:  # stored beside the input once the job has an id
            fields["bg_image"] = UploadRef(part="bg_image")
        options = options_from(fields, uploads=True)
        try:
            job = JobCreate.model_validate(
                {
                    key: fields.get(key) or None
                    for key in ("image_url", "image_base64", "webhook_url", "request_id")
                }
                | {"options": options, "outputs": json_list_field(fields.get("outputs"))}
            )
        except ValidationError as exc:
            raise invalid_request(exc.errors(), "body") from None
        if isinstance(upload, UploadFile):
            if job.image_url or job.image_base64:
                raise ApiError(400, "invalid_request", "give one image, not a file and more")
            return ParsedJob(await read_upload(upload, limit), job, backdrop)
    elif content_type.startswith("application/json"):
        try:
            job = JobCreate.model_validate_json(await request.body())
        except ValidationError as exc:
            raise invalid_request(exc.errors(), "body") from None
    else:
        raise ApiError(400, "invalid_request", "send application/json or multipart/form-data")
    images = [job.options.bg_image] + [o.overrides().get("bg_image") for o in job.outputs]
    for image in images:
        if isinstance(image, UrlInput):  # refused here, not after a trip to a worker
            await checked_url(str(image.url), service.url_policy)
    if job.image_url is not None:
        return ParsedJob(await checked_url(str(job.image_url), service.url_policy), job, backdrop)
    if job.image_base64 is not None:
        return ParsedJob(decode_inline(job.image_base64, limit), job, backdrop)
    if job.image is not None:
        return ParsedJob(job.image, job, backdrop)
    raise missing_image("image (file), image_url, image_base64 or image (object)")


def _rendition_view(service: Gateway, output: OutputInfo) -> RenditionView:
    expiry = service.settings.outputs.url_expiry_s
    box = output.foreground
    return RenditionView(
        url=service.output_url(output, expiry),
        expires_at=datetime.now(UTC) + timedelta(seconds=expiry),
        content_type=output.content_type,
        width=output.width,
        height=output.height,
        size_bytes=output.size_bytes,
        foreground=box.model_dump() if box else None,
        bucket=output.bucket,
        key=output.key,
    )


async def job_view(service: Gateway, record: JobRecord) -> JobView:
    outputs = [_rendition_view(service, output) for output in record.outputs]
    output = outputs[0] if outputs else None  # shown as an OutputView (no bucket or key)
    pending = record.status in (JobStatus.ACCEPTED, JobStatus.PROCESSING)
    return JobView(
        id=record.request_id,
        account=record.account,
        status=record.status.value,
        created_at=record.created_at,
        updated_at=record.updated_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        duration_ms=record.duration_ms,
        attempts=record.attempts,
        credits_charged=record.credits_charged,
        options=record.request.options if record.request else None,
        output=output,
        outputs=outputs,
        error=ErrorView(code=str(record.error.code), message=record.error.message)
        if record.error and record.status is JobStatus.FAILED
        else None,
        webhook_url=str(record.request.webhook_url)
        if record.request and record.request.webhook_url
        else None,
        webhook_deliveries=len(record.deliveries),
        webhook_last_attempt=WebhookAttemptView.of(record.deliveries[-1])
        if record.deliveries
        else None,
        estimated_completion_s=round(service.estimate_s(), 1) if pending else None,
    )


@router.post(
    "/v1/jobs",
    status_code=202,
    response_model=JobView,
    responses=ERRORS,
    openapi_extra=REQUEST_BODY,
    summary="Create a background-removal job",
)
async def create_job(request: Request, account: Account, service: Service) -> JobView:
    """Accepts the image and answers at once; poll `GET /v1/jobs/{id}` or give a
    `webhook_url`. Posting an existing `request_id` again returns that job."""
    parsed = await parse_job(request, service)
    job = parsed.job
    webhook = await checked_webhook(
        str(job.webhook_url) if job.webhook_url else None, service.url_policy
    )
    record = await service.submit(
        account,
        parsed.source,
        job.options,
        webhook_url=webhook,
        request_id=job.request_id,
        outputs=job.outputs,
        backdrop=parsed.backdrop,
    )
    return await job_view(service, record)


@router.get(
    "/v1/jobs/{job_id}",
    response_model=JobView,
    responses={401: ERRORS[401], 404: {"model": ApiErrorBody, "description": "No such job"}},
    summary="Get a job",
)
async def get_job(job_id: str, account: Account, service: Service) -> JobView:
    return await job_view(service, await service.job(account, job_id))


@router.delete(
    "/v1/jobs/{job_id}",
    response_model=JobView,
    responses={
        401: ERRORS[401],
        404: {"model": ApiErrorBody, "description": "No such job"},
        409: {"model": ApiErrorBody, "description": "The job has already started"},
    },
    summary="Cancel a job that has not started",
)
async def cancel_job(job_id: str, account: Account, service: Service) -> JobView:
    return await job_view(service, await service.cancel(account, job_id))


@router.post(
    "/v1/remove-background",
    response_class=Response,
    responses={
        **IMAGE_RESPONSE,
        **ERRORS,
        504: {"model": ApiErrorBody, "description": "Not done in time; poll the job"},
    },
    openapi_extra=REQUEST_BODY,
    summary="Remove the background and answer with the image",
)
async def remove_background(request: Request, account: Account, service: Service) -> Response:
    """Waits up to `gateway.sync_timeout_s` for the result; after that, 504 with the job
    id (the job goes on and can be polled). With `outputs`, answers with the first; the
    job (`X-Request-ID`) lists them all."""
    parsed = await parse_job(request, service)
    result = await service.submit_and_wait(
        account,
        parsed.source,
        parsed.job.options,
        outputs=parsed.job.outputs,
        backdrop=parsed.backdrop,
    )
    return await image_response(service, result)
