from __future__ import annotations

import numpy as np
import pytest

from bench.precision import agreement


def square(top: int, left: int, side: int = 4) -> np.ndarray:
    mask = np.zeros((10, 10), np.uint8)
    mask[top : top + side, left : left + side] = 255
    return mask


def test_identical_masks_agree_fully() -> None:
    masks = [square(1, 1), square(5, 5), np.zeros((10, 10), np.uint8)]  # an empty pair too
    near = agreement(masks, [m.copy() for m in masks])
    assert near == {"mean": 0.0, "p95": 0.0, "median_iou": 1.0, "strays": 0}


def test_a_moved_mask_strays_and_a_faint_edge_does_not() -> None:
    reference = [square(1, 1), square(1, 1)]
    faint = square(1, 1)
    faint[0, 0] = 100  # changes a pixel's value, not which side of 0.5 it is on
    moved = square(2, 2)  # IoU 9/23
    near = agreement(reference, [faint, moved])
    assert near["strays"] == 1
    assert near["median_iou"] == pytest.approx((1 + 9 / 23) / 2)
    assert near["mean"] == pytest.approx((100 / 255 / 100 + 14 * 255 / 255 / 100) / 2)
