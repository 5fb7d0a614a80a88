"""Models pulled from their release URLs (IS-Net, BiRefNet, BRIA RMBG-2.0), against a
loopback HTTP server serving small generated graphs of each family: the real release
host is unreachable here, so what is tested is the path — checksum, atomic install,
licence gate — and each family's pre/post-processing on the installed file."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from processors.segmenters import KNOWN_MODELS, ModelRegistry, RuntimeOptions, UrlSource
from streams.exceptions import ModelPullError
from streams.imaging.modelpull import is_installed, pull_model
from tests.unit.imaging.conftest import Index
from tests.unit.processors.test_segmenters import half_and_half, mean_graph


def served(index: Index, tmp_path: Path, name: str, *, to_unit: bool) -> tuple[str, bytes]:
    """A 1024² mean graph served at a URL of the loopback server, and its bytes."""
    files = index.root / "files"
    files.mkdir(exist_ok=True)
    path = mean_graph(files / f"{name}.onnx", 1024, 1024, to_unit=to_unit)
    return f"{index.url.removesuffix('/simple')}/files/{name}.onnx", path.read_bytes()


@pytest.mark.parametrize(
    ("name", "to_unit"),
    [("isnet-general-use", True), ("birefnet-general-lite", False), ("bria-rmbg", True)],
)
def test_a_release_model_is_downloaded_verified_and_runs(
    index: Index, tmp_path: Path, name: str, to_unit: bool
) -> None:
    url, payload = served(index, tmp_path, name, to_unit=to_unit)
    known = KNOWN_MODELS[name]
    assert isinstance(known.source, UrlSource)
    assert known.source.url.startswith("https://github.com/danielgatis/rembg/releases/")
    spec = replace(
        known,
        sha256=hashlib.sha256(payload).hexdigest(),
        source=replace(known.source, url=url),
    )
    seen: list[int] = []
    models = tmp_path / "models"
    path = pull_model(
        spec,
        models,
        index.url,
        progress=lambda done, _: seen.append(done),
        accept_noncommercial=True,
    )
    assert path.read_bytes() == payload
    assert is_installed(spec, models)
    assert seen[-1] == len(payload)
    assert [p.name for p in models.iterdir()] == [spec.file]  # nothing left behind
    segmenter = ModelRegistry(models, {name: spec}).load(name, RuntimeOptions(engine="onnxruntime"))
    mask = np.asarray(segmenter.predict(half_and_half()))
    assert mask.shape == (200, 300)
    assert mask[:, :140].mean() < 20  # the black half: background
    assert mask[:, 160:].mean() > 235  # the white half: subject


def test_a_download_with_the_wrong_checksum_is_refused(index: Index, tmp_path: Path) -> None:
    url, _ = served(index, tmp_path, "isnet", to_unit=True)
    known = KNOWN_MODELS["isnet-general-use"]
    spec = replace(known, source=UrlSource(url))  # the real release's hash
    with pytest.raises(ModelPullError, match="refusing to install"):
        pull_model(spec, tmp_path / "models", index.url)
    assert not (tmp_path / "models" / spec.file).exists()


def test_a_non_commercial_model_needs_its_licence_accepted(index: Index, tmp_path: Path) -> None:
    with pytest.raises(ModelPullError, match=r"CC-BY-NC-4\.0.*--accept-noncommercial"):
        pull_model(KNOWN_MODELS["bria-rmbg"], tmp_path / "models", index.url)


def test_an_unreachable_release_host_is_one_clear_error(tmp_path: Path) -> None:
    spec = replace(KNOWN_MODELS["birefnet-general"], source=UrlSource("http://127.0.0.1:9/x.onnx"))
    with pytest.raises(ModelPullError, match=r"download of http://127\.0\.0\.1:9/x\.onnx failed"):
        pull_model(spec, tmp_path / "models", "http://127.0.0.1:9/simple", timeout=2)
