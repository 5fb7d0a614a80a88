"""Foreground colour estimation: the colours of a soft edge without the old background.

A pixel of the alpha band (0 < alpha < 1) shows ``I = alpha F + (1 - alpha) B``: the
subject's colour mixed with the background's. A cutout that keeps ``I`` carries the old
background into its edge, and on a new background that shows as a halo. This module
estimates ``F`` with the blur-fusion estimator of Forte & Pitié, "Approximate Fast
Foreground Colour Estimation" (ICIP 2021; their ``FB_blur_fusion_foreground_estimator_2``):
local means of the foreground and the background from box blurs weighted by alpha, a
first pass with a 90-pixel box and a second with a 6-pixel box, then one correction per
pixel:

    F = F_mean + alpha (I - alpha F_mean - (1 - alpha) B_mean)

The means are smooth, so they are computed on the picture reduced to at most
``WORK_SIDE`` pixels a side (box sizes scaled alike) and read back bilinearly at the band's
pixels only; the correction uses the full-resolution ``I`` and ``alpha``. Pixels outside
the band keep their colour. Cost and effect are measured by ``make bench-edges``
(docs/quality.md).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

WORK_SIDE = 267
"""Longest side of the picture the means are computed on (chosen on speed: a 1600 px
photo's means at 400 px; the edge error measured in docs/quality.md)."""
_FIRST_BOX, _SECOND_BOX = 90, 6  # the paper's box sizes, in full-resolution pixels
_EPS = 1e-5
_STRIP_ROWS = 256

Array = npt.NDArray[np.floating[Any]]


def _running_mean(values: Array, size: int, axis: int) -> Array:
    """Mean over ``size`` neighbours along ``axis`` (edges mirrored), by running sums."""
    before, after = size // 2, size - 1 - size // 2
    pad = [(0, 0)] * values.ndim
    pad[axis] = (before, after)
    sums = np.cumsum(np.pad(values, pad, mode="reflect"), axis=axis, dtype=np.float32)
    head = [slice(None)] * values.ndim
    head[axis] = slice(0, 1)
    sums = np.concatenate([np.zeros_like(sums[tuple(head)]), sums], axis=axis)
    length = values.shape[axis]
    upper, lower = [slice(None)] * values.ndim, [slice(None)] * values.ndim
    upper[axis], lower[axis] = slice(size, size + length), slice(0, length)
    return (sums[tuple(upper)] - sums[tuple(lower)]) / size


def _box_mean(values: Array, size: int) -> Array:
    """Mean over a ``size`` × ``size`` box around each pixel (edges mirrored), as OpenCV's
    ``blur``; separable running sums, so any size costs the same."""
    if size <= 1:
        return values
    return _running_mean(_running_mean(values, size, 0), size, 1)


def _means(image: Array, fg: Array, bg: Array, alpha: Array, size: int) -> tuple[Array, Array]:
    """The alpha-weighted local means of the foreground and the background."""
    blurred = _box_mean(np.concatenate([alpha, fg * alpha, bg * (1 - alpha)], axis=2), size)
    blurred_alpha = blurred[..., :1]
    fg_mean = blurred[..., 1:4] / (blurred_alpha + _EPS)
    bg_mean = blurred[..., 4:7] / ((1 - blurred_alpha) + _EPS)
    return fg_mean, bg_mean


def _corrected(image: Array, alpha: Array, fg_mean: Array, bg_mean: Array) -> Array:
    """``F_mean + alpha (I - alpha F_mean - (1 - alpha) B_mean)``, clipped to [0, 1];
    written as ``F_mean + alpha ((I - B_mean) - alpha (F_mean - B_mean))`` in place."""
    estimate = image - bg_mean
    estimate -= alpha * (fg_mean - bg_mean)
    estimate *= alpha
    estimate += fg_mean
    return np.clip(estimate, 0.0, 1.0, out=estimate)


def _sample(values: Array, at: npt.NDArray[np.intp], width: int, k: int) -> Array:
    """``values`` (reduced ``k`` times) at the full-resolution pixels ``at`` (flat indices
    into rows of ``width``): each reads the reduced pixel it fell in. The means are smooth
    over the second box; reading them bilinearly cost as much as everything else together
    and did not lower the edge error (0.0239 bilinear, 0.0238 this way, on 30 sod-dev
    photos composited on plain green at 1600 px)."""
    height, small_width, channels = values.shape
    rows = np.minimum(at // width // k, height - 1)
    columns = np.minimum(at % width // k, small_width - 1)
    sampled: Array = values.reshape(-1, channels)[rows * small_width + columns]
    return sampled


_BAND = [0] + [255] * 254 + [0]  # 0 < alpha < 255


def estimate_foreground(rgb: Image.Image, alpha: Image.Image) -> None:
    """Replace the colours of ``rgb``'s alpha band with estimated foreground colours, in
    place (``rgb`` "RGB" and ``alpha`` "L", the same size)."""
    bounds = alpha.point(_BAND).getbbox()
    if bounds is None:
        return
    k = max(1, math.ceil(max(rgb.size) / WORK_SIDE))
    # Only the band and what its means read: its bounds and a first box around them,
    # aligned to the reduction.
    left = max(0, bounds[0] - _FIRST_BOX) // k * k
    top = max(0, bounds[1] - _FIRST_BOX) // k * k
    right = min(rgb.width, bounds[2] + _FIRST_BOX)
    bottom = min(rgb.height, bounds[3] + _FIRST_BOX)
    area = (left, top, right, bottom)
    small_rgb, small_alpha = rgb.reduce(k, box=area), alpha.reduce(k, box=area)
    image = np.asarray(small_rgb, dtype=np.float32) / 255
    weight = (np.asarray(small_alpha, dtype=np.float32) / 255)[..., None]
    first = max(1, round(_FIRST_BOX / k))
    second = max(1, round(_SECOND_BOX / k))
    fg_mean, bg_mean = _means(image, image, image, weight, first)
    fg = _corrected(image, weight, fg_mean, bg_mean)
    fg_mean, bg_mean = _means(image, fg, bg_mean, weight, second)
    means = np.concatenate([fg_mean, bg_mean], axis=2)
    # Full resolution a strip at a time: a 50-megapixel picture never has a second copy.
    for strip in range(top, bottom, _STRIP_ROWS):
        box = (left, strip, right, min(bottom, strip + _STRIP_ROWS))
        a = np.asarray(alpha.crop(box)).ravel()
        at = np.flatnonzero((a > 0) & (a < 255))
        if at.size == 0:
            continue
        picture = np.array(rgb.crop(box))
        pixels = picture.reshape(-1, 3)
        band = pixels[at].astype(np.float32)
        band /= 255
        band_alpha = (a[at].astype(np.float32) / 255)[:, None]
        width = right - left
        sampled = _sample(means, at + (strip - top) * width, width, k)
        estimate = _corrected(band, band_alpha, sampled[:, :3], sampled[:, 3:])
        estimate *= 255
        pixels[at] = np.rint(estimate, out=estimate)
        rgb.paste(Image.fromarray(picture, "RGB"), box[:2])
