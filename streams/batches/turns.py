"""Planning places shared fairly between accounts.

A batch-service process works on at most ``capacity`` batches at once, and one account
holds at most ``per_account`` of those places. A batch holds a place only for one bounded
step (reading its source, or queueing one checkpoint's worth of items) and then queues
again behind the accounts that were waiting, so whatever one account submits — many
batches, a huge one, a manifest whose host never answers — another account's batch gets a
place within about one step.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from streams import metrics


class FairTurns:
    """Places handed out round-robin between accounts (see the module docstring)."""

    def __init__(self, capacity: int, per_account: int) -> None:
        self.capacity = capacity
        self.per_account = per_account
        self.held: dict[str, int] = {}
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def busy(self) -> int:
        return sum(self.held.values())

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    @asynccontextmanager
    async def turn(self, account: str) -> AsyncIterator[None]:
        """Hold one of ``account``'s places for the block."""
        if self._may_start(account) and not self._waiting.get(account):
            self._take(account)
        else:
            ready = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(account, deque()).append(ready)
            try:
                await ready
            except asyncio.CancelledError:
                if ready.done() and not ready.cancelled():
                    self._give_back(account)  # handed over just as it was cancelled
                else:
                    self._forget(account, ready)
                raise
        try:
            yield
        finally:
            self._give_back(account)

    def _may_start(self, account: str) -> bool:
        return self.busy < self.capacity and self.held.get(account, 0) < self.per_account

    def _take(self, account: str) -> None:
        self.held[account] = self.held.get(account, 0) + 1
        metrics.PLANNING_PLACES.set(self.busy)

    def _give_back(self, account: str) -> None:
        self.held[account] -= 1
        if not self.held[account]:
            del self.held[account]
        if account in self._waiting:
            self._waiting.move_to_end(account)  # it just had a turn: the others first
        metrics.PLANNING_PLACES.set(self.busy)
        self._hand_over()

    def _forget(self, account: str, ready: asyncio.Future[None]) -> None:
        queue = self._waiting.get(account)
        if queue is not None and ready in queue:
            queue.remove(ready)
            if not queue:
                del self._waiting[account]

    def _hand_over(self) -> None:
        """Give free places to the accounts that waited longest since their last turn."""
        for account in list(self._waiting):
            if self.busy >= self.capacity:
                return
            if not self._may_start(account):
                continue
            queue = self._waiting.pop(account)
            ready = queue.popleft()
            if queue:
                self._waiting[account] = queue  # back of the line
            self._take(account)
            ready.set_result(None)
