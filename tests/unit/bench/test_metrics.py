from __future__ import annotations

import numpy as np
import pytest

from bench.metrics import Scores


def test_perfect_prediction() -> None:
    truth = np.zeros((10, 10), np.uint8)
    truth[2:6, 3:8] = 255
    scores = Scores()
    scores.add(truth.copy(), truth)
    assert scores.mae == 0
    assert scores.iou == 1
    assert scores.max_f == pytest.approx(1)


def test_inverted_prediction_is_worst() -> None:
    truth = np.zeros((10, 10), np.uint8)
    truth[:5] = 255
    scores = Scores()
    scores.add(255 - truth, truth)
    assert scores.mae == 1
    assert scores.iou == 0


def test_half_right() -> None:
    truth = np.zeros((4, 4), np.uint8)
    truth[:, :2] = 255
    prediction = np.zeros((4, 4), np.uint8)
    prediction[:, :1] = 255  # finds half the subject, no false positives
    scores = Scores()
    scores.add(prediction, truth)
    assert scores.mae == pytest.approx(0.25)
    assert scores.iou == pytest.approx(0.5)
    # at threshold 255: precision 1, recall 0.5 → F = 1.3*0.5/(0.3+0.5)
    assert scores.max_f == pytest.approx(1.3 * 0.5 / 0.8)
