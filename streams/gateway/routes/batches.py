"""Batches over HTTP: ``/v1/batches`` — submit (JSON, or a manifest upload), progress,
results manifest, cancel, list. The same path as ``cutstream batch`` (see
:mod:`streams.messaging.batches`)."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from schemas.api.native import ApiErrorBody
from schemas.batches import BatchCreate, BatchSpec, BatchView
from schemas.options import RemovalOptions
from streams.gateway.deps import (
    Account,
    Service,
    invalid_request,
    json_list_field,
    options_from,
)
from streams.gateway.errors import ApiError
from streams.gateway.inputs import checked_webhook
from streams.gateway.service import Gateway

router = APIRouter(tags=["batches"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ApiErrorBody, "description": description}
    for status, description in (
        (400, "Invalid batch (the code says which)"),
        (401, "Missing or invalid API key"),
        (403, "The output is not the account's to write, or the account is suspended"),
        (404, "No such batch"),
        (409, "The id names a different batch, or it has finished"),
        (503, "Cannot queue the batch right now"),
    )
}

_FORM_FIELDS = {
    "manifest",
    "batch_id",
    "manifest_format",
    "input_column",
    "id_column",
    "output_bucket",
    "output_prefix",
    "name_template",
    "webhook_url",
    "outputs",
}
_MANIFEST_FIELDS: dict[str, Any] = {
    "manifest": {"type": "string", "format": "binary", "description": "CSV or JSONL manifest."},
    "batch_id": {"type": "string"},
    "manifest_format": {"type": "string", "enum": ["csv", "jsonl"]},
    "input_column": {"type": "string"},
    "id_column": {"type": "string"},
    "output_bucket": {"type": "string"},
    "output_prefix": {"type": "string"},
    "name_template": {"type": "string"},
    "webhook_url": {"type": "string"},
    "outputs": {"type": "string", "description": "The renditions, as a JSON list."},
}
REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchCreate"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": _MANIFEST_FIELDS,
                    "additionalProperties": {"type": "string"},
                    "required": ["manifest"],
                }
            },
        },
    }
}


def _new_batch_id() -> str:
    return f"batch_{uuid.uuid4().hex}"


async def _from_form(request: Request, service: Gateway, account: str) -> BatchCreate:
    """A multipart submission: the manifest file (stored in the account's uploads) and
    the batch's fields; option fields at the top level, as for jobs."""
    form = await request.form()
    unknown = sorted(set(form.keys()) - _FORM_FIELDS - set(RemovalOptions.model_fields))
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown form field(s): {', '.join(unknown)[:200]}")
    upload = form.get("manifest")
    if not isinstance(upload, UploadFile):
        raise ApiError(400, "invalid_request", "a multipart batch needs a `manifest` file")
    fields = {k: v for k, v in form.items() if isinstance(v, str) and v != ""}
    batch_id = fields.get("batch_id") or _new_batch_id()
    data = await upload.read(service.settings.limits.max_input_bytes + 1)
    if len(data) > service.settings.limits.max_input_bytes:
        raise ApiError(
            413,
            "image_too_large",
            "the manifest is larger than the upload limit; put it in "
            "the store or behind a URL and send its reference",
        )
    options = options_from({k: v for k, v in fields.items() if k not in _FORM_FIELDS})
    filename = PurePosixPath(upload.filename or "").name or "manifest"
    target = service.batches.manifest_target(account, batch_id, filename)
    try:
        body = BatchCreate.model_validate(
            {
                "batch_id": batch_id,
                "source": {
                    "kind": "manifest",
                    "manifest": target,
                    "format": fields.get("manifest_format"),
                    "input_column": fields.get("input_column"),
                    "id_column": fields.get("id_column"),
                },
                "options": options,
                "outputs": json_list_field(fields.get("outputs")),
                "output": {
                    "bucket": fields.get("output_bucket"),
                    "prefix": fields.get("output_prefix"),
                    **(
                        {"name_template": fields["name_template"]}
                        if "name_template" in fields
                        else {}
                    ),
                },
                "webhook_url": fields.get("webhook_url"),
            }
        )
    except ValidationError as exc:
        raise invalid_request(exc.errors(), "body") from None
    await service.batches.upload_manifest(target, data)
    return body


@router.post(
    "/v1/batches",
    status_code=202,
    response_model=BatchView,
    responses=ERRORS,
    openapi_extra=REQUEST_BODY,
    summary="Submit a batch: a manifest (CSV/JSONL: reference, URL or upload) or a prefix",
)
async def create_batch(request: Request, account: Account, service: Service) -> Response:
    """Queue every item of the source on the bulk lane. Answers 202 with the batch (poll
    `GET /v1/batches/{id}`); submitting an existing id with the same batch resumes it
    (200), with a different one is 409."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        body = await _from_form(request, service, account)
    elif content_type.startswith("application/json"):
        try:
            body = BatchCreate.model_validate_json(await request.body())
        except ValidationError as exc:
            raise invalid_request(exc.errors(), "body") from None
    else:
        raise ApiError(400, "invalid_request", "send application/json or multipart/form-data")
    if body.webhook_url is not None:
        await checked_webhook(str(body.webhook_url), service.url_policy)
    spec = BatchSpec(
        batch_id=body.batch_id or _new_batch_id(),
        account=account,
        source=body.source,
        options=body.options,
        output=body.output,
        outputs=body.outputs,
        webhook_url=body.webhook_url,
    )
    _, created = await service.batches.submit(spec)
    view = await service.batches.view(account, spec.batch_id)
    return JSONResponse(view.model_dump(mode="json"), status_code=202 if created else 200)


@router.get("/v1/batches", response_model=list[BatchView], responses=ERRORS, summary="Batches")
async def list_batches(account: Account, service: Service) -> list[BatchView]:
    """The account's batches, newest first."""
    return await service.batches.list(account)


@router.get(
    "/v1/batches/{batch_id}", response_model=BatchView, responses=ERRORS, summary="Progress"
)
async def get_batch(batch_id: str, account: Account, service: Service) -> BatchView:
    """Counts (queued, succeeded, failed, canceled), rate, ETA; the results URL once done."""
    return await service.batches.view(account, batch_id)


@router.get(
    "/v1/batches/{batch_id}/results",
    responses={
        **ERRORS,
        200: {"content": {"text/csv": {}, "application/x-ndjson": {}}, "description": "Rows"},
    },
    response_class=Response,
    summary="The results manifest",
)
async def batch_results(
    batch_id: str,
    account: Account,
    service: Service,
    format: Annotated[Literal["csv", "jsonl"], Query(description="csv or jsonl")] = "csv",
) -> Response:
    """One row per item (item id, input, output key and URL, status, error code and
    message, credits, bytes, foreground box), in source order: final once the batch has
    finished, the rows so far before."""
    data = await service.batches.results(account, batch_id, format)
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{batch_id}-results.{format}"'},
    )


@router.delete(
    "/v1/batches/{batch_id}", response_model=BatchView, responses=ERRORS, summary="Cancel"
)
async def cancel_batch(batch_id: str, account: Account, service: Service) -> BatchView:
    """Cancel what has not run: those items end `canceled`; the batch finishes once every
    item has an outcome. 409 if it has already finished."""
    await service.batches.cancel(account, batch_id)
    return await service.batches.view(account, batch_id)
