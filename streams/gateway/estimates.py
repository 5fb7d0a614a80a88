"""How long until a job submitted now is done: the backlog times the measured rate."""

from __future__ import annotations

import time
from collections import deque

from schemas.events import ResultEvent
from streams.messaging.lag import GroupLag

PRIOR_SECONDS_PER_IMAGE = 2.0
"""Until results have been seen, estimates assume this (then the measured rate)."""
_RATE_WINDOW_S = 300.0
_LAG_CACHE_S = 2.0


class Estimator:
    """Completion estimates from the processors' backlog and the results seen lately."""

    def __init__(self, lag: GroupLag) -> None:
        self.lag = lag
        self.completions: deque[float] = deque(maxlen=500)
        self._cached: tuple[float, int] | None = None

    def saw(self, result: ResultEvent) -> None:
        """Note a result (of any request, from any worker) for the rate."""
        self.completions.append(time.monotonic())

    def seconds_per_image(self) -> float:
        """Measured from the results seen in the last few minutes (all workers)."""
        now = time.monotonic()
        recent = [t for t in self.completions if now - t <= _RATE_WINDOW_S]
        if len(recent) < 2 or recent[-1] == recent[0]:
            return PRIOR_SECONDS_PER_IMAGE
        return (recent[-1] - recent[0]) / (len(recent) - 1)

    async def backlog(self) -> int:
        """Requests published but not yet taken by the processors (cached briefly)."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < _LAG_CACHE_S:
            return self._cached[1]
        lag = await self.lag.measure()
        self._cached = (now, lag)
        return lag

    async def seconds(self) -> float:
        """Seconds until a job submitted now is likely done."""
        return (await self.backlog() + 1) * self.seconds_per_image()
