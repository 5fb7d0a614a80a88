"""Planning places: bounded, at most so many per account, handed round the accounts."""

from __future__ import annotations

import asyncio

from streams.batches.turns import FairTurns


async def test_places_go_round_the_accounts_not_to_whoever_asked_most() -> None:
    turns = FairTurns(capacity=1, per_account=1)
    order: list[str] = []
    release = asyncio.Event()

    async def work(account: str, hold: bool = False) -> None:
        async with turns.turn(account):
            order.append(account)
            if hold:
                await release.wait()

    first = asyncio.create_task(work("a", hold=True))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(work(account)) for account in ("a", "a", "a", "b", "c")]
    await asyncio.sleep(0)
    assert turns.waiting == 5
    release.set()
    await asyncio.gather(first, *tasks)
    assert order == ["a", "b", "c", "a", "a", "a"]  # b and c did not wait behind all of a
    assert (turns.busy, turns.waiting) == (0, 0)


async def test_one_account_never_holds_every_place() -> None:
    turns = FairTurns(capacity=3, per_account=2)
    gate = asyncio.Event()
    started: list[str] = []

    async def work(account: str) -> None:
        async with turns.turn(account):
            started.append(account)
            await gate.wait()

    tasks = [asyncio.create_task(work("a")) for _ in range(5)]
    await asyncio.sleep(0)
    assert started == ["a", "a"]  # the third place stays free for someone else
    tasks.append(asyncio.create_task(work("b")))
    await asyncio.sleep(0)
    assert started == ["a", "a", "b"]
    gate.set()
    await asyncio.gather(*tasks)
    assert turns.busy == 0


async def test_a_waiter_cancelled_gives_nothing_away() -> None:
    turns = FairTurns(capacity=1, per_account=1)
    gate = asyncio.Event()

    async def hold() -> None:
        async with turns.turn("a"):
            await gate.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    gate.set()
    await holder
    assert (turns.busy, turns.waiting) == (0, 0)
    async with turns.turn("b"):
        assert turns.busy == 1
