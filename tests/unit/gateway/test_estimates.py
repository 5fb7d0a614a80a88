"""Completion estimates: a quiet service's estimate is one job's time, not the idle gaps
between its last results."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.events import ImageCompleted
from streams.gateway.estimates import PRIOR_SECONDS_PER_IMAGE, Estimator


class Waiting:
    """The backlog's count, as the estimator reads it."""

    def __init__(self, count: int) -> None:
        self.count = count

    def waiting(self) -> int:
        return self.count

    def answered(self, result: Any) -> None:
        pass


def completed(processing_ms: float) -> ImageCompleted:
    return ImageCompleted.model_validate(
        {
            "request_id": "r",
            "payload": {
                "output": {
                    "bucket": "out",
                    "key": "a/r.png",
                    "content_type": "image/png",
                    "size_bytes": 1,
                    "width": 1,
                    "height": 1,
                },
                "processing_ms": processing_ms,
                "attempts": 1,
            },
        }
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def seen_at(estimator: Estimator, clock: Clock, moments: list[float], processing_ms: float) -> None:
    for moment in moments:
        clock.now = moment
        estimator.saw(completed(processing_ms))
    clock.now = moments[-1] + 1


def test_before_any_result_the_prior_is_used() -> None:
    assert Estimator(Waiting(4)).seconds() == PRIOR_SECONDS_PER_IMAGE * 5  # type: ignore[arg-type]


def test_a_quiet_service_estimates_one_jobs_time() -> None:
    clock = Clock()
    estimator = Estimator(Waiting(1), clock)  # type: ignore[arg-type]
    seen_at(estimator, clock, [1000.0, 1030.0, 1060.0], processing_ms=1300)
    # Results 30 s apart, each 1.3 s of work: the old estimate said 2 × 30 s.
    assert estimator.seconds() == pytest.approx(2.6)


def test_a_busy_service_estimates_the_queue_at_its_rate() -> None:
    clock = Clock()
    estimator = Estimator(Waiting(20), clock)  # type: ignore[arg-type]
    moments = [1000.0 + 0.25 * n for n in range(41)]  # 4 results a second
    seen_at(estimator, clock, moments, processing_ms=1200)
    assert estimator.seconds() == pytest.approx(1.2 + 20 * 0.25)
