"""How much decoded picture a worker holds at once.

What costs memory is the decoded picture, not the compressed input: a 6 KB 1-bit PNG can
decode to 7000 x 7000 pixels, 200 MB at Pillow's four bytes a pixel, and the pipeline
holds a few such planes. Each request therefore reserves its decoded size — width x height
x 4, read from the image header before anything is decoded — and waits while the
reservations in flight would pass the limit. One picture larger than the limit still
runs, alone, so nothing waits forever.
"""

from __future__ import annotations

import asyncio
import ctypes
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from streams import metrics


class MemoryBudget:
    """Reservations of decoded bytes, at most ``limit`` at once (or one larger one)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def reserve(self, size: int) -> AsyncIterator[None]:
        """Hold ``size`` bytes of the budget for the duration of the block."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.used == 0 or self.used + size <= self.limit)
            self.used += size
            metrics.IN_FLIGHT_BYTES.set(self.used)
        try:
            yield
        finally:
            async with self._changed:
                self.used -= size
                metrics.IN_FLIGHT_BYTES.set(self.used)
                self._changed.notify_all()


_M_MMAP_THRESHOLD = -3
_MMAP_FROM = 1 << 20


def return_freed_pictures() -> bool:
    """Have glibc serve every allocation of 1 MiB or more with its own mapping, which goes
    back to the system the moment it is freed. By default glibc raises that threshold after
    the first large free, and a worker's image threads then keep freed pictures in their
    heaps: measured after a batch of 49 MP inputs, 1.1 GB stayed resident instead of
    0.6 GB (docs/benchmarks.md). Whether it applied (not on other C libraries)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_FROM))
    except (OSError, AttributeError):
        return False
