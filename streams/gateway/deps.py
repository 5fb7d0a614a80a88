"""What every route needs: the gateway, the caller's account, options from forms, image
answers with their metadata headers."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.responses import Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from schemas.events import ImageCompleted, ImageFailed
from schemas.options import RemovalOptions
from schemas.refs import UPLOADS_CONTEXT
from streams.gateway.errors import ApiError, from_code
from streams.gateway.service import Gateway

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_api_key = APIKeyHeader(name="ApiKey", auto_error=False, description="ApiKey: <API key>")

IMAGE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The processed image, with X-Request-ID, X-Credits-Charged, "
        "X-Processing-Time-Ms, "
        "X-Image-Width, X-Image-Height and X-Foreground-{Left,Top,Width,Height} headers.",
        "content": {"image/png": {}, "image/webp": {}, "image/jpeg": {}},
    }
}


def gateway(request: Request) -> Gateway:
    service: Gateway = request.app.state.gateway
    return service


async def account(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> str:
    """The account of the presented API key; 401 in the route's error shape otherwise,
    403 if the account is suspended (metering on)."""
    key = bearer.credentials if bearer is not None else api_key
    if not key:
        raise ApiError(401, "unauthorized", "missing API key: send Authorization: Bearer <key>")
    service = gateway(request)
    dev = service.settings.gateway.dev_api_key
    if dev is not None and hmac.compare_digest(key, dev.get_secret_value()):
        found: str | None = "default"
    else:
        found = await service.keys.account_for(key)
    if found is None:
        raise ApiError(401, "unauthorized", "invalid or revoked API key")
    request.state.account = found  # for the rate-limit headers of the answer
    if service.meter is not None:
        await service.meter.check_standing(found)
    return found


Account = Annotated[str, Depends(account)]
Service = Annotated[Gateway, Depends(gateway)]


PAIR_SEPARATORS = {"bg_gradient": ";", "shadow_offset": ","}
"""Pair fields sent as one form value: colours contain commas, so they split on ';'."""


def options_from(fields: Mapping[str, Any], uploads: bool = False) -> RemovalOptions:
    """Options from form fields named like the options model; a bad value is a 400
    naming the field. A pair is a list (a repeated field) or one string (see
    :data:`PAIR_SEPARATORS`). ``uploads``: a field may name a file of this multipart
    request (:class:`~schemas.refs.UploadRef`)."""
    given: dict[str, Any] = {}
    for name in RemovalOptions.model_fields:
        value = fields.get(name)
        if value is None or value == "" or value == []:
            continue
        if name in PAIR_SEPARATORS and isinstance(value, str):
            value = [part.strip() for part in value.split(PAIR_SEPARATORS[name])]
        given[name] = value
    return validated_options(given, uploads)


def invalid_request(errors: Sequence[Any], whole: str) -> ApiError:
    """A 400 naming the first invalid field of pydantic's ``errors()`` (``whole`` when the
    error is not in a field)."""
    error = errors[0]
    where = ".".join(str(part) for part in error.get("loc", ())) or whole
    return ApiError(400, "invalid_request", f"{where}: {error.get('msg', 'invalid')}")


def validated_options(given: Mapping[str, Any], uploads: bool = False) -> RemovalOptions:
    try:
        return RemovalOptions.model_validate(dict(given), context={UPLOADS_CONTEXT: uploads})
    except ValidationError as exc:
        raise invalid_request(exc.errors(), "options") from None


def failure(result: ImageFailed) -> ApiError:
    """A failed result as an error answer, with the status its code has everywhere."""
    error = result.payload.error
    return from_code(error.code, error.message)


async def image_response(service: Gateway, result: ImageCompleted | ImageFailed) -> Response:
    """The result's image with its metadata headers, or its failure as an error."""
    if isinstance(result, ImageFailed):
        raise failure(result)
    output = result.payload.output
    headers = {
        "X-Request-ID": result.request_id,
        "X-Credits-Charged": str(result.payload.credits_charged),
        "X-Processing-Time-Ms": f"{result.payload.processing_ms:.0f}",
        "X-Image-Width": str(output.width),
        "X-Image-Height": str(output.height),
    }
    if output.foreground is not None:
        box = output.foreground
        headers |= {
            "X-Foreground-Left": str(box.left),
            "X-Foreground-Top": str(box.top),
            "X-Foreground-Width": str(box.width),
            "X-Foreground-Height": str(box.height),
        }
    data = await service.output_bytes(output)
    return Response(data, media_type=output.content_type, headers=headers)


def estimate_range(seconds: float) -> str:
    """'8-12 seconds' around an estimate."""
    low = max(1, int(seconds * 0.8))
    high = max(low + 1, int(seconds * 1.25 + 0.999))
    return f"{low}-{high} seconds"


def json_list_field(text: Any) -> Any:
    """A form field holding a JSON list (``outputs``): parsed, or ``[]`` when empty;
    what it holds is left to validation."""
    if not isinstance(text, str) or not text:
        return []
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid_request", f"outputs: not JSON ({exc})") from None
