"""How long until a job submitted now is done: one job's own processing time, plus the
requests waiting ahead of it at the rate results come back (every worker's)."""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable

from schemas.events import ImageCompleted, ResultEvent
from streams.messaging.backlog import Backlog

PRIOR_SECONDS_PER_IMAGE = 2.0
"""Until results have been seen, estimates assume this (then what is measured)."""
_RATE_WINDOW_S = 300.0


class Estimator:
    """Completion estimates from the backlog and the results seen lately."""

    def __init__(self, backlog: Backlog, clock: Callable[[], float] = time.monotonic) -> None:
        self.backlog = backlog
        self.clock = clock
        self.completions: deque[float] = deque(maxlen=500)
        self.durations: deque[tuple[float, float]] = deque(maxlen=200)

    def saw(self, result: ResultEvent) -> None:
        """Note a result (of any request, from any worker)."""
        now = self.clock()
        self.completions.append(now)
        if isinstance(result, ImageCompleted):
            self.durations.append((now, result.payload.processing_ms / 1000))
        self.backlog.answered(result)

    def job_seconds(self) -> float:
        """How long one job takes once a worker has it (median of the last few minutes)."""
        now = self.clock()
        recent = [seconds for at, seconds in self.durations if now - at <= _RATE_WINDOW_S]
        return statistics.median(recent) if recent else PRIOR_SECONDS_PER_IMAGE

    def seconds_per_image(self) -> float:
        """How often results come back while there is work (all workers): the gaps between
        recent results, never more than one job's own time — on a quiet service the gaps
        are idle time, not work."""
        now = self.clock()
        recent = [t for t in self.completions if now - t <= _RATE_WINDOW_S]
        job = self.job_seconds()
        if len(recent) < 2 or recent[-1] == recent[0]:
            return job
        return min((recent[-1] - recent[0]) / (len(recent) - 1), job)

    def seconds(self) -> float:
        """Seconds until a job submitted now is likely done: the requests ahead of it at
        the measured rate, then its own processing."""
        return self.job_seconds() + self.backlog.waiting() * self.seconds_per_image()
