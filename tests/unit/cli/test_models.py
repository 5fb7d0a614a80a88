"""`cutstream models list`: what is installed and what runs each model on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from processors.segmenters import Machine
from streams.cli import cli


@pytest.mark.parametrize(
    ("native_bf16", "u2net_runs"),
    [(True, "openvino f32 or bf16 (timed at load)"), (False, "openvino f32")],
)
def test_list_says_what_runs_each_model(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, native_bf16: bool, u2net_runs: str
) -> None:
    machine = Machine(cuda=False, openvino=True, native_bf16=native_bf16)
    monkeypatch.setattr(Machine, "detect", classmethod(lambda cls, runtime: machine))
    monkeypatch.setenv("CUTSTREAM_MODELS__DIR", str(model_dir))
    monkeypatch.setenv("COLUMNS", "240")
    result = CliRunner().invoke(cli, ["models", "list"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    cells = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:]]
        for line in result.output.splitlines()
        if line.startswith("│") and line.split("│")[1].strip()
    }
    rows = {name: row[4] for name, row in cells.items()}  # runs on
    assert rows["u2net-int8 (default)"] == "openvino int8"
    assert rows["u2netp"] == "openvino f32"  # never bf16 unless asked: it harms its masks
    assert rows["u2net"] == u2net_runs
    assert "u2net-int8 here: OpenVINO is installed" in result.output
    assert cells["bria-rmbg"][2] == "CC-BY-NC-4.0 (non-commercial)"
    assert cells["birefnet-general"][2] == "MIT"
