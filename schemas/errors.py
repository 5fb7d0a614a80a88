"""Stable error codes and the root exception every cutstream error derives from.

The codes are part of the public contract: they appear in failure events, in HTTP error
bodies and in CLI summaries, so a code is never renamed once released.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Machine-readable reason a request failed."""

    INVALID_REQUEST = "invalid_request"
    """The request event itself is malformed or violates the schema."""
    INVALID_IMAGE_FORMAT = "invalid_image_format"
    """The input is not a supported image, or it is corrupt or truncated."""
    IMAGE_TOO_LARGE = "image_too_large"
    """The input has more bytes than the configured limit."""
    RESOLUTION_TOO_HIGH = "resolution_too_high"
    """The input has more pixels than the configured limit (checked before decoding)."""
    ANIMATED_IMAGE_NOT_SUPPORTED = "animated_image_not_supported"
    """The input is animated and the service is configured to reject animations."""
    INPUT_NOT_FOUND = "input_not_found"
    """The input object does not exist, or its URL answered 404/410."""
    INPUT_FETCH_FAILED = "input_fetch_failed"
    """The input URL could not be fetched (unreachable, timed out, or an HTTP error)."""
    URL_NOT_ALLOWED = "url_not_allowed"
    """A URL uses a refused scheme or points at a non-public address."""
    MODEL_NOT_INSTALLED = "model_not_installed"
    """The requested model has no weights in the model directory."""
    UNKNOWN_MODEL = "unknown_model"
    """The requested model name is not in the registry."""
    STORAGE_UNAVAILABLE = "storage_unavailable"
    """The object store could not be reached or answered with a server error."""
    WEBHOOK_FAILED = "webhook_failed"
    """A webhook was never delivered: every attempt failed (in dead letters only)."""
    TIMEOUT = "timeout"
    """No result arrived within the caller's deadline; the request may still complete."""
    NOT_FOUND = "not_found"
    """No such job (or it belongs to another account): HTTP answers only."""
    CONFLICT = "conflict"
    """The job is not in a state that allows the change asked for: HTTP answers only."""
    UNAVAILABLE = "unavailable"
    """The request could not be queued right now (Kafka did not take it); nothing was."""
    INSUFFICIENT_CREDITS = "insufficient_credits"
    """The account's credits do not cover the request's price: HTTP 402."""
    SUBSCRIPTION_EXPIRED = "subscription_expired"
    """The account's subscription has ended: HTTP 402."""
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    """The plan's per-minute limit is reached: HTTP 429 with Retry-After."""
    QUOTA_EXCEEDED = "quota_exceeded"
    """The plan's daily or monthly quota is spent: HTTP 429 with Retry-After."""
    ACCOUNT_SUSPENDED = "account_suspended"
    """The account is suspended (or unknown to the ledger): HTTP 403 on every route."""
    CANCELED = "canceled"
    """The request belongs to a batch that was canceled before the request ran."""
    OUTPUT_NOT_ALLOWED = "output_not_allowed"
    """The request names an output location its account may not write to."""
    MANIFEST_INVALID = "manifest_invalid"
    """A batch's manifest cannot be read: no input column, a record longer than
    ``batches.max_record_bytes`` (an unterminated quote), or broken CSV quoting."""
    MANIFEST_TOO_LARGE = "manifest_too_large"
    """A batch's manifest has more bytes than ``batches.max_manifest_bytes``."""
    INTERNAL_ERROR = "internal_error"
    """A bug or an unexpected condition inside cutstream."""


FAILURE_CODES = frozenset(
    {
        ErrorCode.INVALID_REQUEST,
        ErrorCode.INVALID_IMAGE_FORMAT,
        ErrorCode.IMAGE_TOO_LARGE,
        ErrorCode.RESOLUTION_TOO_HIGH,
        ErrorCode.ANIMATED_IMAGE_NOT_SUPPORTED,
        ErrorCode.INPUT_NOT_FOUND,
        ErrorCode.INPUT_FETCH_FAILED,
        ErrorCode.URL_NOT_ALLOWED,
        ErrorCode.MODEL_NOT_INSTALLED,
        ErrorCode.UNKNOWN_MODEL,
        ErrorCode.STORAGE_UNAVAILABLE,
        ErrorCode.CANCELED,
        ErrorCode.OUTPUT_NOT_ALLOWED,
        ErrorCode.INTERNAL_ERROR,
    }
)
"""The codes a request can fail with: in ``image.failed`` events, job records and native
webhooks. (``timeout``, ``not_found``, ``conflict``, ``unavailable`` and the metering codes
are answers of the HTTP API and the client; ``webhook_failed`` and ``conflict`` also appear
in dead letters.)"""

DEAD_LETTER_CODES = FAILURE_CODES | {ErrorCode.WEBHOOK_FAILED, ErrorCode.CONFLICT}
"""The codes a dead letter's error can carry."""

SOURCE_CODES = frozenset(
    {
        ErrorCode.MANIFEST_INVALID,
        ErrorCode.MANIFEST_TOO_LARGE,
        ErrorCode.INPUT_NOT_FOUND,
        ErrorCode.INPUT_FETCH_FAILED,
        ErrorCode.URL_NOT_ALLOWED,
        ErrorCode.INVALID_REQUEST,
    }
)
"""The codes a batch's ``source_error`` can carry: why its manifest or prefix could not be
read (``invalid_request`` only in records written before the manifest codes existed)."""


class CutstreamError(Exception):
    """Root of every error cutstream raises on purpose.

    ``code`` is the stable machine-readable reason. ``retryable`` says whether the same
    request may succeed later unchanged (an unreachable store) or never will (a corrupt
    image); the stream processor routes on it.
    """

    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    retryable: bool = False

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"
