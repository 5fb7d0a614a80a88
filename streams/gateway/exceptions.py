"""What the gateway's service layer raises; :mod:`streams.gateway.errors` maps each code to
its HTTP answer."""

from __future__ import annotations

from schemas.errors import ErrorCode
from streams.exceptions import StreamsError


class JobNotFoundError(StreamsError):
    """No such job for this account (another account's job is not found either)."""

    code = ErrorCode.NOT_FOUND


class JobConflictError(StreamsError):
    """The job's state does not allow what was asked (e.g. canceling a started job)."""

    code = ErrorCode.CONFLICT
