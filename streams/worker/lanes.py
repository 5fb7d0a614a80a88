"""Two lanes into one worker: interactive requests first, batch items in the room left.

The interactive lane (``topics.requests`` and due retries) runs as before. The bulk lane
(``topics.bulk_requests``) starts an item only while no interactive request is in flight
in this worker; an item already running when an interactive request arrives finishes, but
its model run waits behind the interactive one (the model's slot goes to the most urgent
waiter). So an interactive request waits at most for one model run of a batch item, and
a worker with no interactive traffic spends all its capacity on batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Lanes:
    """Counts interactive requests in flight; the bulk lane waits until there are none."""

    def __init__(self) -> None:
        self.interactive = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @asynccontextmanager
    async def interactive_request(self) -> AsyncIterator[None]:
        """Hold while an interactive request is in flight."""
        self.interactive += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self.interactive -= 1
            if self.interactive == 0:
                self._quiet.set()

    async def bulk_turn(self) -> None:
        """Return once no interactive request is in flight."""
        await self._quiet.wait()
