"""The remove-bg JSON shape: ``POST /v1/remove-bg`` takes a URL or data URI and answers
with a link to a transparent PNG."""

from __future__ import annotations

from fastapi import APIRouter

from schemas.api.compat import RemoveBgError, RemoveBgRequest, RemoveBgResponse
from schemas.events import ImageFailed
from schemas.options import RemovalOptions
from streams.gateway.deps import Account, Service, failure
from streams.gateway.inputs import ImageSource, checked_url, decode_inline, missing_image
from streams.gateway.routes.compat.common import errors

MAX_BYTES = 10 * 1024 * 1024
"""The shape documents 10 MB images."""
LINK_VALIDITY_S = 24 * 3600
"""The shape documents links valid for 24 hours."""

router = APIRouter(tags=["remove-bg JSON: /v1/remove-bg"])


@router.post(
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
        source = decode_inline(body.image, MAX_BYTES)
    else:
        source = await checked_url(body.image, service.url_policy)
    result = await service.submit_and_wait(account, source, RemovalOptions(), shape="remove-bg")
    if isinstance(result, ImageFailed):
        raise failure(result)
    return RemoveBgResponse(
        success=True,
        image_url=service.output_url(result.payload.output, LINK_VALIDITY_S),
        request_id=result.request_id,
        credits_used=result.payload.credits_charged,
    )
