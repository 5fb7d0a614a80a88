"""Metered batch items: reserved one by one, throttled by the per-minute limit, refused
with the ledger's code, never asked for again once finished."""

from __future__ import annotations

from typing import Any

from schemas.errors import ErrorCode
from schemas.events import ErrorInfo, ImageRequested
from schemas.ledger import Command, Refusal, Reply, Reserve
from streams.batches.admission import Admission, Refused, Throttled
from streams.config.settings import Settings
from streams.storage import jobs
from streams.storage.accounts import AccountViews
from streams.storage.jobs import JobStore
from streams.storage.memory import MemoryObjectStore


class FakeLedger:
    """Answers with the replies it is given, in order, and keeps what it was asked."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.asked: list[Command] = []

    async def ask(self, command: Command) -> Reply:
        self.asked.append(command)
        reply = self.replies.pop(0)
        return reply.model_copy(update={"command_id": command.command_id})


def request() -> ImageRequested:
    return ImageRequested.model_validate(
        {
            "request_id": "b1.0",
            "account": "acme",
            "payload": {
                "input": {"bucket": "inputs", "key": "uploads/acme/a.jpg"},
                "batch": {"batch_id": "b1", "index": 0, "item_id": "a"},
            },
        }
    )


def admission(ledger: FakeLedger, **metering: Any) -> tuple[Admission, JobStore]:
    store = MemoryObjectStore()
    store.ensure_bucket("jobs")
    job_store = JobStore(store, "jobs")
    settings = Settings(metering={"prices": {"default": 1, "batch": 2}, **metering})
    gate = Admission(settings, AccountViews(store, "jobs"), job_store)
    gate._ledger_client = ledger  # type: ignore[assignment]
    return gate, job_store


async def test_the_per_minute_limit_says_how_long_to_wait_and_a_new_ask_is_a_new_command() -> None:
    ledger = FakeLedger(
        Reply(command_id="", ok=False, refusal=Refusal.RATE_LIMITED, retry_after_s=17),
        Reply(command_id="", ok=True, credits_held=2),
    )
    gate, _ = admission(ledger)
    assert await gate.reserve(request()) == Throttled(17)  # the planner waits, not here
    assert await gate.reserve(request()) is None
    first, second = ledger.asked
    assert isinstance(first, Reserve)
    assert first.command_id != second.command_id  # a new command, not a replay
    assert (first.price, first.request_id) == (2, "b1.0")  # priced as `batch`


async def test_other_refusals_become_the_items_code() -> None:
    ledger = FakeLedger(
        Reply(command_id="", ok=False, refusal=Refusal.QUOTA_EXHAUSTED, message="spent")
    )
    gate, _ = admission(ledger)
    assert await gate.reserve(request()) == Refused(ErrorCode.QUOTA_EXCEEDED, "spent")


async def test_an_item_that_finished_before_a_restart_is_not_asked_for() -> None:
    ledger = FakeLedger()
    gate, job_store = admission(ledger)
    error = ErrorInfo(code=ErrorCode.INPUT_NOT_FOUND, message="gone")
    done = jobs.failed(jobs.accepted(request()), error, "e")
    await job_store.put(done)
    assert await gate.reserve(request()) is None
    assert ledger.asked == []


async def test_an_item_whose_id_names_other_work_is_a_conflict_without_asking() -> None:
    ledger = FakeLedger()
    gate, job_store = admission(ledger)
    elsewhere = {"input": {"bucket": "inputs", "key": "uploads/acme/other.jpg"}, "batch": None}
    other = request().model_copy(update={"payload": request().payload.model_validate(elsewhere)})
    await job_store.put(jobs.accepted(other))  # a job submitted as "b1.0" before the batch
    refused = await gate.reserve(request())
    assert isinstance(refused, Refused)
    assert refused.code is ErrorCode.CONFLICT
    assert ledger.asked == []


async def test_which_accounts_are_metered() -> None:
    gate, _ = admission(FakeLedger(), accounts={"default": "internal", "shop": "basic"})
    assert not await gate.metered("default")  # internal: straight to the bulk lane
    assert await gate.metered("shop")
    assert await gate.metered("stranger")  # unknown: through the ledger (which refuses)
    off, _ = admission(FakeLedger(), enabled=False)
    assert not await off.metered("shop")
