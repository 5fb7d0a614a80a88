"""How a batch's items are queued: straight onto the bulk lane, or one by one through the
ledger.

An account whose plan meters nothing (no limits, no credits: ``internal``) — or any
account while metering is off — has its items sent straight to the bulk lane. Otherwise
each item is a ``reserve`` command to the ledger (price ``metering.prices["batch"]``, else
the default), which holds the credits, counts the item in the plan's windows and queues it
on the bulk lane itself — so an item runs if and only if it was admitted, exactly as for
the gateway. The per-minute limit throttles the planner (it gives its planning place up, waits
the ledger's ``retry_after_s`` and asks again); any other refusal (credits, quota,
suspension, expired subscription) becomes that item's row in the results, with the
refusal's code.

A planner resumed after a crash asks again for the items after its checkpoint; the ledger
answers a request it still holds (or settled lately) as a copy, and an item whose job
record has finished is not asked for at all, so nothing is charged twice. An item whose
request id is already taken by a different request (a job submitted under
``<batch_id>.<index>`` before) is refused as a ``conflict`` without asking: the ledger
would take it for a copy and queue nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from schemas.errors import ErrorCode
from schemas.events import ImageRequested
from schemas.ledger import Refusal, Reserve
from streams.config.settings import Settings
from streams.messaging.ledger import REFUSAL_CODES, LedgerClient
from streams.storage.accounts import AccountViews
from streams.storage.jobs import JobStore

log = logging.getLogger(__name__)

BATCH_SHAPE = "batch"
"""The name batch items are priced under in ``metering.prices``."""


@dataclass(frozen=True)
class Refused:
    """Why an item is not queued: the ledger did not admit it, or it is not a valid
    request at all."""

    code: ErrorCode
    message: str


@dataclass(frozen=True)
class Throttled:
    """The plan's per-minute limit is reached: ask again in ``wait_s`` seconds."""

    wait_s: float


class Admission:
    """Decides whether a batch is metered and reserves its items through the ledger."""

    def __init__(self, settings: Settings, views: AccountViews, jobs: JobStore) -> None:
        self.root = settings
        self.settings = settings.metering
        self.views = views
        self.jobs = jobs
        self._started = asyncio.Lock()
        self._ledger_client: LedgerClient | None = None

    async def _ledger(self) -> LedgerClient:
        """The ledger client, made and started on first use (inside the running loop); it
        lives as long as the process."""
        async with self._started:
            if self._ledger_client is None:
                client = LedgerClient(self.root, "batches")
                await client.start()
                self._ledger_client = client
        return self._ledger_client

    async def metered(self, account: str) -> bool:
        """Whether ``account``'s items go through the ledger (its plan as last projected,
        or as configured; an account the ledger does not know is metered — and refused)."""
        if not self.settings.enabled:
            return False
        view = await self.views.cached(account)
        name = view.plan if view is not None else self.settings.accounts.get(account)
        plan = self.settings.plans.get(name) if name is not None else None
        return plan is None or plan.draws_credits or bool(plan.limits())

    async def reserve(self, request: ImageRequested) -> Refused | Throttled | None:
        """Have the ledger admit and queue ``request``; ``None`` once it has (or once the
        item turns out to have finished before a crash), else why not."""
        ledger = await self._ledger()
        record = await self.jobs.get(request.account, request.request_id)
        if record is not None and (
            record.request is None or not record.request.same_work_as(request.payload)
        ):
            return Refused(
                ErrorCode.CONFLICT,
                f"request id {request.request_id} is already used by a different request",
            )
        if record is not None and record.status.finished:
            return None  # reserved, run and settled before the planner restarted
        command = Reserve(
            account=request.account,
            request_id=request.request_id,
            price=self.settings.price(BATCH_SHAPE, renditions=len(request.payload.outputs)),
            request=request,
        )
        reply = await ledger.ask(command)
        if reply.ok:
            return None
        if reply.refusal is Refusal.RATE_LIMITED:
            wait = max(1, reply.retry_after_s or 1)
            log.info("%s: the plan's per-minute limit; waiting %d s", request.account, wait)
            return Throttled(wait)
        code = REFUSAL_CODES.get(reply.refusal) if reply.refusal else None
        return Refused(code or ErrorCode.CONFLICT, reply.message or "refused by the ledger")
