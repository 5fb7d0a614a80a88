"""The quality modes: one option, plumbed from every entry point to the mask."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from processors import Remover
from processors.compose import _CONTRAST_LUT
from schemas.options import Quality, RemovalOptions
from streams.cli import cli
from streams.gateway.deps import options_from
from tests.images import alpha_of, photo_jpeg


def test_the_option_defaults_to_balanced_and_refuses_unknown_modes() -> None:
    assert RemovalOptions().quality is Quality.BALANCED
    assert RemovalOptions.model_validate({"quality": "best"}).quality is Quality.BEST
    with pytest.raises(ValidationError, match="quality"):
        RemovalOptions.model_validate({"quality": "ultra"})


def test_the_cli_and_the_forms_take_it() -> None:
    assert "--quality [fast|balanced|best]" in CliRunner().invoke(cli, ["remove", "--help"]).output
    assert options_from({"quality": "fast"}).quality is Quality.FAST


def test_the_best_curve_is_monotone_and_spans_the_range() -> None:
    assert _CONTRAST_LUT[0] == 0
    assert _CONTRAST_LUT[255] == 255
    assert (np.diff(_CONTRAST_LUT.astype(int)) >= 0).all()
    assert _CONTRAST_LUT[int(0.2 * 255)] in range(120, 136)  # its centre maps to half


def test_best_runs_the_model_on_the_image_and_its_mirror(
    remover: Remover, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = photo_jpeg("chelsea")
    runs: list[np.ndarray] = []
    segmenter = remover.segmenter()
    original_run = segmenter.run

    def counting(tensor: np.ndarray) -> np.ndarray:
        runs.append(tensor)
        return original_run(tensor)

    monkeypatch.setattr(segmenter, "run", counting)
    alphas = {q: alpha_of(remover.remove(data, RemovalOptions(quality=q)).data) for q in Quality}
    assert len(runs) == 4  # fast 1, balanced 1, best 2
    np.testing.assert_array_equal(runs[2][..., ::-1], runs[3])  # the mirror image
    fast, balanced, best = alphas[Quality.FAST], alphas[Quality.BALANCED], alphas[Quality.BEST]
    assert fast.shape == balanced.shape == best.shape
    assert 0 < np.abs(fast.astype(int) - balanced).mean() < 3  # bilinear: close, not equal
    assert ((best > 127) == (balanced > 127)).mean() > 0.95  # the same subject
