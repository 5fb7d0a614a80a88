"""Pydantic models for events, options, job records and error codes: the public contract."""

from schemas.errors import CutstreamError, ErrorCode
from schemas.events import (
    RESULT_EVENTS,
    SCHEMA_VERSION,
    DeadLetter,
    Envelope,
    ErrorInfo,
    ImageCompleted,
    ImageError,
    ImageFailed,
    ImageRequest,
    ImageRequested,
    ImageResult,
    OutputInfo,
    ResultEvent,
    S3Object,
    UrlInput,
)
from schemas.jobs import JobRecord, JobStatus
from schemas.options import RemovalOptions

__all__ = [
    "RESULT_EVENTS",
    "SCHEMA_VERSION",
    "CutstreamError",
    "DeadLetter",
    "Envelope",
    "ErrorCode",
    "ErrorInfo",
    "ImageCompleted",
    "ImageError",
    "ImageFailed",
    "ImageRequest",
    "ImageRequested",
    "ImageResult",
    "JobRecord",
    "JobStatus",
    "OutputInfo",
    "RemovalOptions",
    "ResultEvent",
    "S3Object",
    "UrlInput",
]
