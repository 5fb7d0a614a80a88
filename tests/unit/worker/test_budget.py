"""The decoded-bytes budget: requests wait while the others' pictures fill it."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from streams.worker.budget import FreedPictures, MemoryBudget


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


class Recorded(FreedPictures):
    def __init__(self) -> None:
        super().__init__(large=50)
        self.calls: list[str] = []

    def begin(self, size: int) -> None:
        self.calls.append(f"+{size}")
        super().begin(size)

    def end(self, size: int, in_flight: int) -> None:
        self.calls.append(f"-{size}:{in_flight}")
        super().end(size, in_flight)


async def test_the_allocator_hears_of_each_reservation_and_of_the_last_one_ending() -> None:
    freed = Recorded()
    budget = MemoryBudget(100, freed)

    async def job(size: int, hold: float) -> None:
        async with budget.reserve(size):
            await asyncio.sleep(hold)

    await asyncio.gather(job(30, 0.02), job(60, 0.05))
    assert freed.calls == ["+30", "+60", "-30:60", "-60:0"]
    assert freed.large_in_flight == 0  # the 60 was large, and is over


_IN_A_FRESH_PROCESS = """
import os
from pathlib import Path
from streams.worker.budget import FreedPictures

def resident():
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def free_pinned_blocks():
    # 128 MiB in 4 MiB blocks, each pinned in place by a smaller neighbour that stays
    blocks, keepers = [], []
    for _ in range(32):
        blocks.append(bytearray(4 << 20))
        keepers.append(bytearray(300_000))
    blocks.clear()
    return resident()

freed = FreedPictures(large=100 << 20)
before = resident()
freed.begin(200 << 20)
large = free_pinned_blocks()
freed.end(200 << 20, in_flight=1)
small = free_pinned_blocks()
freed.end(1 << 20, in_flight=0)
print((large - before) >> 20, (small - before) >> 20, (resident() - before) >> 20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_pictures_go_back_at_once_beside_a_large_one_else_when_nothing_is_in_flight() -> None:
    """In a fresh process: a heap that other tests have grown serves blocks from what it
    already holds, whatever the threshold."""
    run = subprocess.run(
        [sys.executable, "-c", _IN_A_FRESH_PROCESS], capture_output=True, text=True, check=True
    )
    large, small, trimmed = (int(mb) for mb in run.stdout.split())  # MiB over the start
    assert large < 32  # a large picture in flight: each block was a mapping of its own
    assert small > 64  # small pictures only: freed blocks stay in the heap…
    assert trimmed < 32  # …until nothing is in flight
