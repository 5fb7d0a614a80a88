"""Errors of the batch service."""

from __future__ import annotations

from schemas.errors import ErrorCode
from streams.exceptions import StreamsError


class SourceError(StreamsError):
    """A batch's source cannot be read as a manifest at all: no input column, a record
    longer than ``batches.max_record_bytes`` (an unterminated quote), broken quoting."""

    code = ErrorCode.MANIFEST_INVALID


class ManifestTooLargeError(SourceError):
    """The manifest has more bytes than ``batches.max_manifest_bytes``."""

    code = ErrorCode.MANIFEST_TOO_LARGE
