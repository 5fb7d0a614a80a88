"""CLI output a person reads: plans, and a finished batch's status."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner
from rich.console import Console

from schemas.batches import BatchCounts, BatchOutput, BatchState, BatchView, PrefixSource
from streams.cli import cli
from streams.cli.batch import _print


def test_plans_are_listed_with_their_limits() -> None:
    result = CliRunner().invoke(cli, ["accounts", "plans"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for plan in ("basic", "pro", "ultra", "mega", "per-usage", "internal"):
        assert plan in result.output
    assert "Free: 100 a month, 10 a minute." in result.output


def test_an_unknown_plan_is_refused_naming_the_plans_before_the_ledger_is_asked() -> None:
    # No broker runs here: the command must fail on the name, not on Kafka.
    result = CliRunner().invoke(cli, ["accounts", "plan", "demo", "free"])
    assert result.exit_code == 2
    assert "no plan 'free'" in result.output
    assert "basic, pro, ultra, mega, per-usage, internal" in result.output


def test_a_finished_batch_shows_nothing_waiting() -> None:
    now = datetime.now(UTC)
    view = BatchView(
        batch_id="b-1",
        account="default",
        state=BatchState.COMPLETED,
        source=PrefixSource(bucket="cutstream-inputs", prefix="default/"),
        output=BatchOutput(),
        counts=BatchCounts(total=2, queued=2, failed=2),
        rate_per_s=None,
        eta_s=None,
        credits=0,
        bytes=0,
        truncated=False,
        source_error=None,
        created_at=now,
        planned_at=now,
        finished_at=now,
        results_url=None,
    )
    out = Console(record=True, width=100)
    _print(view, out)
    text = out.export_text()
    assert "waiting or running │ 0" in text
    assert "failed             │ 2" in text
