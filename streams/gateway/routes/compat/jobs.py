"""The jobs shape: ``POST /api/v1/remove-bg`` (a file or URL, async) and
``GET /api/v1/jobs/{job_id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from schemas.api.compat import JobAccepted, JobsError, JobStatusView
from schemas.jobs import JobStatus
from schemas.options import RemovalOptions
from schemas.webhooks import WebhookFormat
from streams.gateway.deps import Account, Service, estimate_range
from streams.gateway.errors import ApiError
from streams.gateway.inputs import checked_url, checked_webhook
from streams.gateway.routes.compat.common import errors, read_file

router = APIRouter(tags=["jobs: /api/v1"])

_JOB_STATUS = {
    JobStatus.ACCEPTED: "processing",
    JobStatus.PROCESSING: "processing",
    JobStatus.SUCCEEDED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "canceled",
}


@router.post(
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
        account,
        source,
        RemovalOptions(),
        webhook_url=webhook,
        webhook_format=WebhookFormat.JOBS,
        shape="jobs",
    )
    return JobAccepted(
        job_id=record.request_id,
        created_at=record.created_at,
        estimated_completion_time=estimate_range(service.estimate_s()),
    )


@router.get(
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
        estimated_completion_time=estimate_range(service.estimate_s()) if pending else None,
    )
