"""Errors raised by the image core. Each carries a stable :class:`ErrorCode`."""

from __future__ import annotations

from schemas.errors import CutstreamError, ErrorCode


class ProcessorError(CutstreamError):
    """Base of the image-core errors; never retryable: the same input fails the same way."""


class InvalidImageError(ProcessorError):
    """The bytes are not a supported, intact image."""

    code = ErrorCode.INVALID_IMAGE_FORMAT


class UnknownModelError(ProcessorError):
    """The model name is not in the registry."""

    code = ErrorCode.UNKNOWN_MODEL


class ModelNotInstalledError(ProcessorError):
    """The model is known but its weights are not in the model directory."""

    code = ErrorCode.MODEL_NOT_INSTALLED


class ModelChecksumError(ProcessorError):
    """A model file does not match the checksum it was published with."""

    code = ErrorCode.MODEL_NOT_INSTALLED
