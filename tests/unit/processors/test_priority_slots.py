"""The model's inference slot goes to the most urgent waiter."""

from __future__ import annotations

import threading
import time

from processors.pipeline import PrioritySlots


def _waiter(slots: PrioritySlots, priority: int, order: list[str], name: str) -> threading.Thread:
    def run() -> None:
        with slots.hold(priority):
            order.append(name)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_for_waiters(slots: PrioritySlots, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(slots._waiting) < count:
        assert time.monotonic() < deadline, "waiters never queued"
        time.sleep(0.001)


def test_a_freed_slot_goes_to_the_lowest_priority_number_then_first_come() -> None:
    slots = PrioritySlots(1)
    order: list[str] = []
    with slots.hold(1):
        threads = [_waiter(slots, 1, order, "bulk-1")]
        _wait_for_waiters(slots, 1)
        threads.append(_waiter(slots, 1, order, "bulk-2"))
        _wait_for_waiters(slots, 2)
        threads.append(_waiter(slots, 0, order, "interactive"))
        _wait_for_waiters(slots, 3)
    for thread in threads:
        thread.join(5)
    assert order == ["interactive", "bulk-1", "bulk-2"]


def test_two_slots_run_two_holders_at_once() -> None:
    slots = PrioritySlots(2)
    inside = threading.Barrier(2, timeout=5)

    def run() -> None:
        with slots.hold(1):
            inside.wait()  # both must be inside together, or this times out

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert not inside.broken
