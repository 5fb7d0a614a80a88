"""Errors raised by the image core. Each carries a stable :class:`ErrorCode`."""

from __future__ import annotations

from schemas.errors import CutstreamError, ErrorCode


class ProcessorError(CutstreamError):
    """Base of the image-core errors; never retryable: the same input fails the same way."""


class InvalidImageError(ProcessorError):
    """The bytes are not a supported, intact image."""

    code = ErrorCode.INVALID_IMAGE_FORMAT


class ImageTooLargeError(ProcessorError):
    """More bytes than ``max_bytes``."""

    code = ErrorCode.IMAGE_TOO_LARGE


class ResolutionTooHighError(ProcessorError):
    """More pixels than ``max_pixels`` (refused before the pixels are decoded)."""

    code = ErrorCode.RESOLUTION_TOO_HIGH


class AnimatedImageError(ProcessorError):
    """An animated input while animations are refused."""

    code = ErrorCode.ANIMATED_IMAGE_NOT_SUPPORTED


class UnusableOptionsError(ProcessorError):
    """The options cannot be honoured for this image (e.g. a shadow moved off the picture)."""

    code = ErrorCode.INVALID_REQUEST


class RuntimeUnavailableError(ProcessorError):
    """The configured inference runtime or precision cannot run here."""

    code = ErrorCode.MODEL_NOT_INSTALLED


class UnknownModelError(ProcessorError):
    """The model name is not in the registry."""

    code = ErrorCode.UNKNOWN_MODEL


class ModelNotInstalledError(ProcessorError):
    """The model is known but its weights are not in the model directory."""

    code = ErrorCode.MODEL_NOT_INSTALLED


class ModelChecksumError(ProcessorError):
    """A model file does not match the checksum it was published with."""

    code = ErrorCode.MODEL_NOT_INSTALLED
