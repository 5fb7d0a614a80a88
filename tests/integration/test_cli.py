"""`cutstream submit` end to end: output files, exit codes, messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import cli
from streams.config.settings import Settings
from tests.images import photo_jpeg
from tests.integration.conftest import WorkerFactory

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
