"""Pydantic models for events, options and error codes: cutstream's public contract."""

from schemas.errors import CutstreamError, ErrorCode
from schemas.events import (
    SCHEMA_VERSION,
    ErrorInfo,
    Event,
    ImageCompleted,
    ImageFailed,
    ImageRequested,
    ResultEvent,
    S3Object,
)
from schemas.options import RemovalOptions

__all__ = [
    "SCHEMA_VERSION",
    "CutstreamError",
    "ErrorCode",
    "ErrorInfo",
    "Event",
    "ImageCompleted",
    "ImageFailed",
    "ImageRequested",
    "RemovalOptions",
    "ResultEvent",
    "S3Object",
]
