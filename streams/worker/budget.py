"""How much decoded picture a worker holds at once.

What costs memory is the decoded picture, not the compressed input: a 6 KB 1-bit PNG can
decode to 7000 x 7000 pixels, 200 MB at Pillow's four bytes a pixel, and the pipeline
holds a few such planes. Each request therefore reserves its decoded size — width x height
x 4, read from the image header before anything is decoded — and waits while the
reservations in flight would pass the limit. One picture larger than the limit still
runs, alone, so nothing waits forever. What the pictures are freed into goes back to the
system (:class:`FreedPictures`).
"""

from __future__ import annotations

import asyncio
import ctypes
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from streams import metrics


class FreedPictures:
    """Where glibc puts freed pictures, steered by what is in flight.

    By default glibc keeps freed pictures in its heaps (it raises its mmap threshold after
    the first large free, up to 32 MiB): measured after a batch of 49 MP inputs, 1.1 GB
    stayed resident instead of 0.6 GB. Pinning the threshold at 1 MiB gives every
    allocation of a picture its own mapping, which goes back the moment it is freed — and
    fresh pages to fault in and zero: 0.010 CPU-s more per 1600 px image, 5 % of the image
    work (docs/benchmarks.md). So: mappings of their own (1 MiB) while a large picture
    (``large`` decoded bytes or more) is in flight, the heap (32 MiB, glibc's own ceiling)
    otherwise, and what the heaps hold handed back (``malloc_trim``) whenever nothing is
    in flight. Does nothing where the C library is not glibc."""

    SMALL = 1 << 20
    CEILING = 32 << 20
    _M_MMAP_THRESHOLD = -3

    def __init__(self, large: int = 64 << 20) -> None:
        self.large = large
        self.large_in_flight = 0
        self.libc = _glibc()
        self._threshold(self.CEILING)

    def _threshold(self, size: int) -> None:
        if self.libc is not None:
            self.libc.mallopt(self._M_MMAP_THRESHOLD, size)

    def begin(self, size: int) -> None:
        """A reservation of ``size`` decoded bytes begins."""
        if size >= self.large:
            self.large_in_flight += 1
            if self.large_in_flight == 1:
                self._threshold(self.SMALL)

    def end(self, size: int, in_flight: int) -> None:
        """A reservation of ``size`` bytes ended; ``in_flight`` bytes are still reserved
        (the heaps are trimmed at 0: about 2 ms on the loop, only when the worker idles)."""
        if size >= self.large:
            self.large_in_flight -= 1
            if self.large_in_flight == 0:
                self._threshold(self.CEILING)
        if in_flight == 0 and self.libc is not None:
            self.libc.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


class MemoryBudget:
    """Reservations of decoded bytes, at most ``limit`` at once (or one larger one), each
    told to ``freed`` (when given) as it begins and ends."""

    def __init__(self, limit: int, freed: FreedPictures | None = None) -> None:
        self.limit = limit
        self.used = 0
        self.freed = freed
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def reserve(self, size: int) -> AsyncIterator[None]:
        """Hold ``size`` bytes of the budget for the duration of the block."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.used == 0 or self.used + size <= self.limit)
            self.used += size
            metrics.IN_FLIGHT_BYTES.set(self.used)
            if self.freed is not None:
                self.freed.begin(size)
        try:
            yield
        finally:
            async with self._changed:
                self.used -= size
                metrics.IN_FLIGHT_BYTES.set(self.used)
                if self.freed is not None:
                    self.freed.end(size, self.used)
                self._changed.notify_all()
