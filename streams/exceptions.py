"""Errors raised by the Kafka/S3 side of cutstream."""

from __future__ import annotations

from schemas.errors import CutstreamError, ErrorCode


class StreamsError(CutstreamError):
    """Base of the errors raised by ``streams``."""


class ObjectNotFoundError(StreamsError):
    """The object (or its bucket) does not exist — or the account may not read it, which
    is told apart from nothing."""

    code = ErrorCode.INPUT_NOT_FOUND

    @classmethod
    def at(cls, bucket: str, key: str) -> ObjectNotFoundError:
        """The one message for a missing (or unreadable) object."""
        return cls(f"s3://{bucket}/{key} does not exist")


class OutputNotAllowedError(StreamsError):
    """The output location is outside every prefix the account may write."""

    code = ErrorCode.OUTPUT_NOT_ALLOWED


class StorageUnavailableError(StreamsError):
    """The object store did not answer or answered with a server error; try again later."""

    code = ErrorCode.STORAGE_UNAVAILABLE
    retryable = True


class StackError(StreamsError):
    """The embedded stack could not be started or provisioned."""


class SubmitTimeoutError(StreamsError):
    """Results did not arrive within the client's timeout; the requests may still finish."""

    code = ErrorCode.TIMEOUT
    retryable = True


class QueueUnavailableError(StreamsError):
    """Kafka did not take a request; it was not queued. Try again later."""

    code = ErrorCode.UNAVAILABLE
    retryable = True


class RequestIdTakenError(StreamsError):
    """The request id already names a different request (other input or options): the
    first request under an id wins."""

    code = ErrorCode.CONFLICT


class ModelPullError(StreamsError):
    """A model could not be fetched, or what was fetched failed verification."""


class LedgerUnavailableError(StreamsError):
    """The ledger did not answer in time (``metering.reply_timeout_s``); nothing was
    admitted on this answer. Try again later."""

    code = ErrorCode.UNAVAILABLE
    retryable = True


class BatchConflictError(StreamsError):
    """The batch id names a different batch, or the batch cannot change as asked."""

    code = ErrorCode.CONFLICT


class BatchNotFoundError(StreamsError):
    """No such batch (or it belongs to another account)."""

    code = ErrorCode.NOT_FOUND
