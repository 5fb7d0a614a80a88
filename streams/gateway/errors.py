r"""Errors of the gateway, rendered in the shape of the API they happen in.

Routes raise :class:`ApiError` (HTTP status + stable code + message) for what is wrong
with the HTTP request itself; the service layer raises :class:`CutstreamError`\s, whose
code picks the status here (:func:`from_cutstream`). The exception handler renders either
the way the route's document says errors look. Codes are :class:`ErrorCode` values or a
few HTTP-level ones (``missing_image``, ``unauthorized``, ``method_not_allowed``…), renamed
where a shape's document uses its own name for the same thing.
"""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus

from fastapi.responses import JSONResponse

from schemas.errors import CutstreamError, ErrorCode


class Shape(StrEnum):
    """The API shapes the gateway speaks, each with its own error body."""

    NATIVE = "native"
    """``/v1/jobs``, ``/v1/remove-background``."""
    REMOVE_BG = "remove-bg"
    """``/v1/remove-bg``: JSON in, a link out (``{success, error: {code, message}}``)."""
    ARTWORKS = "artworks"
    """``/v2/artworks``: async artwork objects (``{message, statusCode, error}``)."""
    REMOVE = "remove"
    """``/v1/remove``: multipart in, the image out."""
    JOBS = "jobs"
    """``/api/v1``: async jobs (``{error, code}``)."""
    REMBG = "rembg"
    """``/v2/rembg``: rembg-style effects, multipart in, the image out."""


def shape_for(path: str) -> Shape:
    """Which API shape a request path belongs to."""
    if path == "/v1/remove-bg":
        return Shape.REMOVE_BG
    if path.startswith("/v2/artworks"):
        return Shape.ARTWORKS
    if path == "/v1/remove":
        return Shape.REMOVE
    if path.startswith("/api/v1/"):
        return Shape.JOBS
    if path.startswith("/v2/rembg"):
        return Shape.REMBG
    return Shape.NATIVE


class ApiError(Exception):
    """An error answer: HTTP ``status``, stable ``code``, human ``message``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


_STATUS: dict[str, int] = {
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.INVALID_IMAGE_FORMAT: 400,
    ErrorCode.IMAGE_TOO_LARGE: 413,
    ErrorCode.RESOLUTION_TOO_HIGH: 400,
    ErrorCode.ANIMATED_IMAGE_NOT_SUPPORTED: 400,
    ErrorCode.INPUT_NOT_FOUND: 400,
    ErrorCode.INPUT_FETCH_FAILED: 400,
    ErrorCode.URL_NOT_ALLOWED: 400,
    ErrorCode.UNKNOWN_MODEL: 400,
    ErrorCode.MODEL_NOT_INSTALLED: 503,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INSUFFICIENT_CREDITS: 402,
    ErrorCode.SUBSCRIPTION_EXPIRED: 402,
    ErrorCode.ACCOUNT_SUSPENDED: 403,
    ErrorCode.RATE_LIMIT_EXCEEDED: 429,
    ErrorCode.QUOTA_EXCEEDED: 429,
    ErrorCode.CANCELED: 409,
    ErrorCode.OUTPUT_NOT_ALLOWED: 403,
    ErrorCode.INTERNAL_ERROR: 500,
}


def from_code(code: str, message: str) -> ApiError:
    """The answer for an error code, raised here or carried by a failed event."""
    return ApiError(_STATUS.get(code, 500), str(code), message)


def from_cutstream(exc: CutstreamError) -> ApiError:
    """The answer for an image-core, streams or gateway-service error (a refusal to
    wait out carries ``Retry-After``)."""
    error = from_code(exc.code, exc.message)
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        error.headers["Retry-After"] = str(max(1, retry_after))
    return error


# The names some shapes' documents use for the same conditions.
_SHAPE_CODES: dict[Shape, dict[str, str]] = {
    Shape.REMOVE: {
        "invalid_request": "validation_error",
        "invalid_image_format": "validation_error",
        "resolution_too_high": "validation_error",
        "animated_image_not_supported": "validation_error",
        "url_not_allowed": "validation_error",
        "unknown_model": "validation_error",
        "input_not_found": "validation_error",
        "input_fetch_failed": "validation_error",
        "unauthorized": "authentication_error",
        "internal_error": "internal_server_error",
        "storage_unavailable": "internal_server_error",
        "model_not_installed": "internal_server_error",
        "timeout": "gateway_timeout",
        "insufficient_credits": "payment_required",
        "subscription_expired": "payment_required",
        "quota_exceeded": "rate_limit_exceeded",
    },
    Shape.REMBG: {
        "invalid_request": "invalid_parameters",
        "missing_image": "invalid_parameters",
        "invalid_image_format": "invalid_image",
        "image_too_large": "invalid_image",
        "resolution_too_high": "invalid_image",
        "animated_image_not_supported": "invalid_image",
        "unknown_model": "invalid_parameters",
        "unauthorized": "invalid_api_key",
        "internal_error": "server_error",
        "storage_unavailable": "server_error",
        "model_not_installed": "server_error",
        "timeout": "timeout",
        "subscription_expired": "insufficient_credits",
        "quota_exceeded": "rate_limit_exceeded",
    },
    Shape.REMOVE_BG: {
        "unauthorized": "invalid_api_key",
        "invalid_request": "invalid_request",
        "subscription_expired": "insufficient_credits",
        "quota_exceeded": "rate_limit_exceeded",
    },
}

# Shapes whose documents give "too large" as a 400, not a 413.
_TOO_LARGE_IS_400 = frozenset({Shape.REMOVE_BG, Shape.REMOVE, Shape.REMBG, Shape.JOBS})


def render(shape: Shape, error: ApiError) -> JSONResponse:
    """``error`` as the body, status and headers ``shape``'s document describes."""
    code = _SHAPE_CODES.get(shape, {}).get(error.code, error.code)
    status = error.status
    if status == 413 and shape in _TOO_LARGE_IS_400:
        status = 400
    if shape is Shape.REMOVE_BG:
        body: object = {"success": False, "error": {"code": code, "message": error.message}}
    elif shape is Shape.ARTWORKS:
        body = {"message": error.message, "statusCode": status, "error": HTTPStatus(status).phrase}
    elif shape is Shape.JOBS:
        body = {"error": error.message, "code": code}
    elif shape is Shape.REMBG:
        body = {"error": code, "message": error.message}
    else:
        body = {"error": {"code": code, "message": error.message}}
    headers = dict(error.headers)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, headers=headers)
