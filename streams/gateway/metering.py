"""The gateway's side of metering: admission through the ledger, account standing, and
the rate-limit headers.

A request is queued by the ledger, not by the gateway: :meth:`Meter.admit` sends a
``reserve`` carrying the request to the account's ledger and waits for the answer. Refused,
nothing was queued or charged (:class:`AdmissionRefusedError`, rendered 402/403/429 in
each API shape). Unanswered in ``metering.reply_timeout_s``, the ledger may still admit it
later, so the caller cancels the job and :meth:`refund` gives back whatever it would hold.

Routes that do not submit (polls, cancels) check the account's standing against the
ledger's projection in the store (:class:`~streams.storage.accounts.AccountViews`, a
second or so behind): a suspended account gets 403 there too. The freshest view each
process has — a ledger reply, else the projection — gives the ``X-RateLimit-*``,
``RateLimit-Policy`` and ``RateLimit`` headers of every authenticated answer.
"""

from __future__ import annotations

import time

from starlette.datastructures import MutableHeaders
from starlette.types import Scope

from schemas.errors import ErrorCode
from schemas.events import ImageRequested
from schemas.ledger import AccountStatus, AccountView, Reply, Reserve, Settle, Window
from streams.config.settings import Settings
from streams.exceptions import StreamsError
from streams.gateway.middleware import ResponseHeaders
from streams.messaging.ledger import REFUSAL_CODES, LedgerClient
from streams.storage.accounts import AccountViews
from streams.storage.base import ObjectStore


class AdmissionRefusedError(StreamsError):
    """The ledger refused the request: nothing was queued or charged."""

    def __init__(self, message: str, code: ErrorCode, retry_after_s: int | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s

    @classmethod
    def of(cls, reply: Reply) -> AdmissionRefusedError:
        code = REFUSAL_CODES.get(reply.refusal) if reply.refusal else None
        return cls(reply.message or "refused", code or ErrorCode.CONFLICT, reply.retry_after_s)


class Meter:
    """Admission, refunds and standing for one gateway process. Start before use."""

    def __init__(self, settings: Settings, store: ObjectStore) -> None:
        self.settings = settings.metering
        self.ledger = LedgerClient(settings, "gateway")
        self.views = AccountViews(store, settings.s3.jobs_bucket, settings.gateway.api_key_cache_s)

    async def start(self) -> None:
        await self.ledger.start()

    async def stop(self) -> None:
        await self.ledger.stop()

    async def admit(self, request: ImageRequested, price: int) -> None:
        """Have the ledger admit and queue ``request``; :class:`AdmissionRefusedError` if
        it refuses, :class:`~streams.exceptions.LedgerUnavailableError` if it does not
        answer in time."""
        reply = await self.ledger.ask(
            Reserve(
                account=request.account,
                request_id=request.request_id,
                price=price,
                request=request,
            )
        )
        if reply.account is not None:
            self.views.remember(reply.account)
        if not reply.ok:
            raise AdmissionRefusedError.of(reply)

    async def refund(self, account: str, request_id: str) -> None:
        """Give back what ``request_id`` holds, if anything (idempotent)."""
        await self.ledger.tell(Settle(account=account, request_id=request_id, outcome="refund"))

    async def check_standing(self, account: str) -> None:
        """:class:`AdmissionRefusedError` (403) for a suspended account, as last
        projected; an account the ledger has not projected yet passes (it answers for
        itself on submission)."""
        view = await self.views.cached(account)
        if view is not None and view.status is AccountStatus.SUSPENDED:
            raise AdmissionRefusedError("the account is suspended", ErrorCode.ACCOUNT_SUSPENDED)

    def headers(self, account: str) -> dict[str, str]:
        """The rate-limit headers of ``account`` from the freshest view this process has."""
        view = self.views.known(account)
        return rate_limit_headers(view, time.time()) if view is not None else {}


def rate_limit_headers(view: AccountView, now: float) -> dict[str, str]:
    """``X-RateLimit-Limit/Remaining/Reset`` (the window with the fewest requests left),
    ``RateLimit-Policy`` (every window) and ``RateLimit`` (the tightest) — the IETF
    draft's structured fields. A window that has ended since the view was made is full
    again. An unlimited plan has none."""
    windows = []
    for usage in view.usage:
        remaining, reset_at = usage.remaining, usage.reset_at
        if reset_at <= now:  # rolled over: a fresh window
            seconds = Window(usage.window).seconds
            remaining, reset_at = usage.limit, (int(now) // seconds + 1) * seconds
        windows.append((usage.window, usage.limit, remaining, reset_at))
    if not windows:
        return {}
    name, limit, remaining, reset_at = min(windows, key=lambda w: (w[2], w[3]))
    policy = ", ".join(f'"{w}";q={q};w={Window(w).seconds}' for w, q, _, _ in windows)
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset_at),
        "RateLimit-Policy": policy,
        "RateLimit": f'"{name}";r={remaining};t={max(0, reset_at - int(now))}',
    }


class RateLimitHeaders(ResponseHeaders):
    """The rate-limit headers of the caller's account on every answer (the ``account``
    dependency leaves the account in the request's state)."""

    def add(self, scope: Scope, headers: MutableHeaders) -> None:
        account = scope.get("state", {}).get("account")
        gateway = getattr(scope["app"].state, "gateway", None)
        meter = gateway.meter if gateway is not None else None
        if account is not None and meter is not None:
            headers.update(meter.headers(account))
