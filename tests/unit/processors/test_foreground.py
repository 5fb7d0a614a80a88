"""Foreground colour estimation on pictures whose true foreground is known."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from processors import Remover
from processors.foreground import _box_mean, estimate_foreground
from schemas.options import RemovalOptions

RED, GREEN = np.array([200, 30, 40]), np.array([20, 190, 60])


def disk_on(
    background: np.ndarray, size: tuple[int, int] = (900, 600)
) -> tuple[Image.Image, Image.Image]:
    """A red disk with a soft 12-pixel edge over a plain ``background``: the photo, its alpha."""
    alpha = Image.new("L", size, 0)
    ImageDraw.Draw(alpha).ellipse((250, 100, 650, 500), fill=255)
    alpha = alpha.filter(ImageFilter.GaussianBlur(4))
    a = np.asarray(alpha, dtype=np.float32)[..., None] / 255
    photo = a * RED + (1 - a) * background
    return Image.fromarray(np.rint(photo).astype(np.uint8)), alpha


def test_the_edge_loses_the_old_background_colour() -> None:
    photo, alpha = disk_on(GREEN)
    estimated = photo.copy()
    estimate_foreground(estimated, alpha)
    a = np.asarray(alpha)
    band = (a > 12) & (a < 243)
    before = np.abs(np.asarray(photo, dtype=float)[band] - RED).mean()
    after = np.abs(np.asarray(estimated, dtype=float)[band] - RED).mean()
    assert before > 40  # the band is visibly green-tinted
    assert after < before / 4


def test_only_the_band_changes() -> None:
    photo, alpha = disk_on(GREEN)
    estimated = photo.copy()
    estimate_foreground(estimated, alpha)
    a = np.asarray(alpha)
    hard = (a == 0) | (a == 255)
    assert np.array_equal(np.asarray(estimated)[hard], np.asarray(photo)[hard])


def test_a_hard_mask_changes_nothing() -> None:
    photo = Image.new("RGB", (64, 48), (1, 2, 3))
    alpha = Image.new("L", (64, 48), 0)
    alpha.paste(255, (10, 10, 40, 30))
    estimated = photo.copy()
    estimate_foreground(estimated, alpha)
    assert estimated.tobytes() == photo.tobytes()


def test_a_large_picture_is_worked_on_reduced_and_in_strips() -> None:
    photo, alpha = disk_on(GREEN, size=(3000, 700))  # reduced 12 times, three strips
    estimated = photo.copy()
    estimate_foreground(estimated, alpha)
    a = np.asarray(alpha)
    band = (a > 12) & (a < 243)
    assert np.abs(np.asarray(estimated, dtype=float)[band] - RED).mean() < 12


def test_box_mean_is_the_mean_of_the_mirrored_box() -> None:
    values = np.random.default_rng(3).random((20, 30, 2)).astype(np.float32)
    for size in (2, 5, 6):
        before, after = size // 2, size - 1 - size // 2
        padded = np.pad(values, [(before, after), (before, after), (0, 0)], mode="reflect")
        want = np.array(
            [
                [padded[y : y + size, x : x + size].mean(axis=(0, 1)) for x in range(30)]
                for y in range(20)
            ]
        )
        assert np.allclose(_box_mean(values, size), want, atol=1e-5)


def test_the_remover_estimates_edges_only_when_told_and_never_in_the_mask(
    remover: Remover,
) -> None:
    photo, _ = disk_on(GREEN)
    buffer = io.BytesIO()
    photo.save(buffer, "PNG")
    estimating = Remover(
        remover.registry, remover.runtime, default_model="u2netp", foreground_estimation=True
    )
    plain, estimated = (
        np.asarray(Image.open(io.BytesIO(r.remove(buffer.getvalue(), RemovalOptions()).data)))
        for r in (remover, estimating)
    )
    soft = (plain[..., 3] > 12) & (plain[..., 3] < 243)
    assert soft.sum() > 500
    assert np.abs(estimated[..., :3][soft].astype(float) - RED).mean() < (
        np.abs(plain[..., :3][soft].astype(float) - RED).mean()
    )
    assert np.array_equal(plain[..., 3], estimated[..., 3])  # the alpha is the same
    masks = [
        r.remove(buffer.getvalue(), RemovalOptions(channels="alpha")).data
        for r in (remover, estimating)
    ]
    assert masks[0] == masks[1]
