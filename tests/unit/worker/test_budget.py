"""The decoded-bytes budget: requests wait while the others' pictures fill it."""

from __future__ import annotations

import asyncio
import sys

from streams.worker.budget import MemoryBudget, return_freed_pictures


async def test_reservations_wait_for_room_and_a_big_one_runs_alone() -> None:
    budget = MemoryBudget(100)
    order: list[str] = []

    async def job(name: str, size: int, hold: float) -> None:
        async with budget.reserve(size):
            order.append(f"+{name}:{budget.used}")
            await asyncio.sleep(hold)
        order.append(f"-{name}")

    await asyncio.gather(job("a", 60, 0.05), job("b", 60, 0.01), job("huge", 500, 0.01))
    assert order[0] == "+a:60"
    assert "+b:60" in order
    assert order.index("+b:60") > order.index("-a")
    assert "+huge:500" in order  # larger than the whole budget: it still ran, alone
    assert budget.used == 0


def test_large_frees_go_back_to_the_system_on_glibc() -> None:
    assert return_freed_pictures() is sys.platform.startswith("linux")
