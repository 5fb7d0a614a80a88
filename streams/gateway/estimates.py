"""How long until a job submitted now is done: the requests waiting times the measured
rate at which results come back (every worker's)."""

from __future__ import annotations

import time
from collections import deque

from schemas.events import ResultEvent
from streams.messaging.backlog import Backlog

PRIOR_SECONDS_PER_IMAGE = 2.0
"""Until results have been seen, estimates assume this (then the measured rate)."""
_RATE_WINDOW_S = 300.0


class Estimator:
    """Completion estimates from the backlog and the results seen lately."""

    def __init__(self, backlog: Backlog) -> None:
        self.backlog = backlog
        self.completions: deque[float] = deque(maxlen=500)

    def saw(self, result: ResultEvent) -> None:
        """Note a result (of any request, from any worker)."""
        self.completions.append(time.monotonic())
        self.backlog.answered(result)

    def seconds_per_image(self) -> float:
        """Measured from the results seen in the last few minutes (all workers)."""
        now = time.monotonic()
        recent = [t for t in self.completions if now - t <= _RATE_WINDOW_S]
        if len(recent) < 2 or recent[-1] == recent[0]:
            return PRIOR_SECONDS_PER_IMAGE
        return (recent[-1] - recent[0]) / (len(recent) - 1)

    def seconds(self) -> float:
        """Seconds until a job submitted now is likely done: the requests ahead of it and
        itself, at the measured rate."""
        return (self.backlog.waiting() + 1) * self.seconds_per_image()
