"""Per-key locks serialise work on one key and vanish when nobody needs them."""

from __future__ import annotations

import asyncio

from streams.messaging.locks import KeyedLocks


async def test_one_key_at_a_time_and_no_lock_left_behind() -> None:
    locks = KeyedLocks()
    inside: list[str] = []
    overlaps: list[bool] = []

    async def work(key: str, name: str) -> None:
        async with locks.hold(key):
            overlaps.append(any(entry.startswith(key) for entry in inside))
            inside.append(f"{key}:{name}")
            await asyncio.sleep(0.01)
            inside.remove(f"{key}:{name}")

    await asyncio.gather(*(work("a", str(i)) for i in range(5)), work("b", "0"))
    assert overlaps == [False] * 6
    assert len(locks) == 0
