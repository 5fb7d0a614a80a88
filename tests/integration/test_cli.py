"""`cutstream submit` and `cutstream accounts` end to end: outputs, exit codes, messages."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from schemas.ledger import AccountView
from streams.cli import cli
from streams.config.settings import Settings
from tests.images import photo_jpeg
from tests.integration.conftest import WorkerFactory
from tests.integration.gateway_helpers import RunningGateway

pytestmark = pytest.mark.integration


def run_cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=settings.to_env(), catch_exceptions=False)
    return result.exit_code, result.output


def test_submit_writes_cutouts_and_reports_failures(
    settings: Settings, start_worker: WorkerFactory, tmp_path: Path
) -> None:
    start_worker()
    good = tmp_path / "cup.jpg"
    good.write_bytes(photo_jpeg("coffee"))
    bad = tmp_path / "notes.jpg"
    bad.write_text("shopping list, not a photo")
    out_dir = tmp_path / "out"

    code, output = run_cli(settings, "submit", str(good), str(bad), "-o", str(out_dir))

    assert code == 1, output
    assert (out_dir / "cup.png").read_bytes().startswith(b"\x89PNG")
    assert not (out_dir / "notes.png").exists()
    assert "[invalid_image_format]" in output
    assert "1 done, 1 failed" in output
    assert f"failed: {bad}" in output


def test_submit_times_out_clearly_without_workers(settings: Settings, tmp_path: Path) -> None:
    image = tmp_path / "cup.jpg"
    image.write_bytes(photo_jpeg("coffee"))

    code, output = run_cli(settings, "submit", str(image), "--timeout", "2", "-o", str(tmp_path))

    assert code == 2
    assert "[timeout] no result within 2 s for 1 request(s): req_" in output


def test_accounts_commands_go_through_the_ledger(api: RunningGateway, tmp_path: Path) -> None:
    settings = api.settings
    name = f"cli-{tmp_path.name[-8:]}"
    created = run_cli(settings, "accounts", "create", name, "--plan", "per-usage", "--credits", "5")
    granted = run_cli(settings, "accounts", "grant", name, "20")
    suspended = run_cli(settings, "accounts", "suspend", name)
    code, shown = run_cli(settings, "accounts", "show", name, "--json")
    duplicate = run_cli(settings, "accounts", "create", name)
    unknown_key = run_cli(settings, "keys", "create", "--account", "nobody-here")
    known_key = run_cli(settings, "keys", "create", "--account", name)
    assert created[0] == 0, created[1]
    assert (granted, suspended[1].strip()) == ((0, f"{name}: 25 credits\n"), f"{name}: suspended")
    view = AccountView.model_validate_json(shown)
    assert (code, view.plan, view.credits, view.status) == (0, "per-usage", 25, "suspended")
    assert duplicate[0] == 1
    assert "exists" in duplicate[1]
    assert unknown_key[0] == 2
    assert "no account 'nobody-here'" in unknown_key[1]
    assert known_key[0] == 0
    assert known_key[1].strip().splitlines()[-1].startswith("csk_")
    deadline = time.monotonic() + 30
    while name not in (listed := run_cli(settings, "accounts", "list"))[1]:
        assert time.monotonic() < deadline, listed
        time.sleep(0.3)
