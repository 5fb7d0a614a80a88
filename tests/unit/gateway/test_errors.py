"""Failed results answer with the status their error code has everywhere in the gateway."""

from __future__ import annotations

import json

import pytest

from schemas.errors import ErrorCode
from schemas.events import ErrorInfo, ImageError, ImageFailed
from streams.gateway.deps import failure
from streams.gateway.errors import Shape, render


def failed(code: ErrorCode) -> ImageFailed:
    error = ErrorInfo(code=code, message=f"it was {code}")
    return ImageFailed(request_id="req-1", payload=ImageError(error=error, attempts=1))


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (ErrorCode.INVALID_IMAGE_FORMAT, 400),
        (ErrorCode.IMAGE_TOO_LARGE, 413),
        (ErrorCode.STORAGE_UNAVAILABLE, 503),
        (ErrorCode.MODEL_NOT_INSTALLED, 503),
        (ErrorCode.INTERNAL_ERROR, 500),
    ],
)
def test_a_failed_result_keeps_its_codes_status(code: ErrorCode, status: int) -> None:
    error = failure(failed(code))
    assert (error.status, error.code, error.message) == (status, str(code), f"it was {code}")


def test_seeds_that_document_too_large_as_400_still_get_400() -> None:
    response = render(Shape.REMBG, failure(failed(ErrorCode.IMAGE_TOO_LARGE)))
    assert response.status_code == 400
    assert json.loads(bytes(response.body)) == {
        "error": "invalid_image",
        "message": "it was image_too_large",
    }
