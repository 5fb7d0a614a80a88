"""Compositing properties on synthetic subjects, where the truth is known exactly."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from processors.compose import (
    Box,
    blurred_background,
    compose,
    crop_box,
    foreground_box,
    gradient,
    subject_alpha,
    target_size,
)
from processors.exceptions import UnusableOptionsError
from schemas.colors import RGBA
from schemas.errors import ErrorCode
from schemas.geometry import Length
from schemas.options import RemovalOptions, SizePreset

W, H = 200, 160
SUBJECT = Box(60, 40, 140, 120)  # an 80x80 square


def scene() -> tuple[Image.Image, Image.Image]:
    """A noisy textured background with a flat orange square subject, and its mask."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    rgb = Image.fromarray(pixels, "RGB")
    ImageDraw.Draw(rgb).rectangle(
        (SUBJECT.left, SUBJECT.top, SUBJECT.right - 1, SUBJECT.bottom - 1), fill=(255, 140, 0)
    )
    alpha = Image.new("L", (W, H), 0)
    ImageDraw.Draw(alpha).rectangle(
        (SUBJECT.left, SUBJECT.top, SUBJECT.right - 1, SUBJECT.bottom - 1), fill=255
    )
    return rgb, alpha


def options(**fields: object) -> RemovalOptions:
    return RemovalOptions.model_validate(fields)


def test_plain_cutout_keeps_subject_and_clears_background() -> None:
    rgb, alpha = scene()
    out = np.asarray(compose(rgb, alpha, options()))
    assert out.shape == (H, W, 4)
    assert (out[SUBJECT.top : SUBJECT.bottom, SUBJECT.left : SUBJECT.right, 3] == 255).all()
    assert (out[: SUBJECT.top, :, 3] == 0).all()
    assert tuple(out[80, 100]) == (255, 140, 0, 255)


def test_blurred_background_changes_background_and_keeps_subject() -> None:
    rgb, alpha = scene()
    source = np.asarray(rgb, dtype=np.int16)
    out = np.asarray(compose(rgb, alpha, options(bg_blur=8)), dtype=np.int16)
    assert (out[..., 3] == 255).all()  # the blurred background is opaque
    inside = (slice(SUBJECT.top, SUBJECT.bottom), slice(SUBJECT.left, SUBJECT.right))
    assert (out[inside][..., :3] == source[inside]).all()
    background = np.asarray(alpha) == 0
    difference = np.abs(out[..., :3] - source)[background]
    assert difference.mean() > 40  # noise is smoothed away
    assert out[..., :3][background].std() < source[background].std() / 3


def test_blur_does_not_smear_the_subject_colour_into_the_background() -> None:
    rgb, alpha = scene()
    background = np.asarray(blurred_background(rgb, alpha, 8), dtype=np.float32)
    just_outside = background[80, SUBJECT.left - 3, :3]
    assert just_outside[2] > 60  # orange has no blue; the noise average (~127) does


@pytest.mark.parametrize("offset", [(20, 30), (-15, 10), (0, -25)])
def test_shadow_appears_at_the_requested_offset(offset: tuple[int, int]) -> None:
    rgb, alpha = scene()
    out = np.asarray(
        compose(
            rgb,
            alpha,
            options(shadow=True, shadow_offset=offset, shadow_blur=0, shadow_color="#000000ff"),
        )
    )
    shadow_only = (out[..., 3] > 0) & (np.asarray(alpha) == 0)
    ys, xs = np.nonzero(shadow_only)
    assert shadow_only.sum() > 0
    expected = Box(
        SUBJECT.left + offset[0],
        SUBJECT.top + offset[1],
        SUBJECT.right + offset[0],
        SUBJECT.bottom + offset[1],
    )
    assert xs.min() >= expected.left
    assert xs.max() < expected.right
    assert ys.min() >= expected.top
    assert ys.max() < expected.bottom
    assert (out[shadow_only][:, :3] == 0).all()  # shadow colour is black


@pytest.mark.parametrize("offset", [(5000, 0), (0, -400), (-4000, 4000)])
def test_a_shadow_moved_off_the_picture_is_an_error(offset: tuple[int, int]) -> None:
    rgb, alpha = scene()
    with pytest.raises(UnusableOptionsError, match="off the") as refused:
        compose(rgb, alpha, options(shadow=True, shadow_offset=offset))
    assert refused.value.code is ErrorCode.INVALID_REQUEST


def test_shadow_strength_follows_its_alpha() -> None:
    rgb, alpha = scene()
    weak = options(
        shadow=True, shadow_color="rgba(0,0,0,0.25)", shadow_blur=0, shadow_offset=(30, 0)
    )
    out = np.asarray(compose(rgb, alpha, weak))
    assert out[80, SUBJECT.right + 10, 3] == 64


def test_solid_background_and_gradient() -> None:
    rgb, alpha = scene()
    solid = np.asarray(compose(rgb, alpha, options(bg_color="#3366ff")))
    assert tuple(solid[5, 5]) == (0x33, 0x66, 0xFF, 255)
    ramp = np.asarray(compose(rgb, alpha, options(bg_gradient=["#ff0000", "#0000ff"])))
    assert tuple(ramp[0, 0]) == (255, 0, 0, 255)
    assert tuple(ramp[-1, 0]) == (0, 0, 255, 255)
    assert 100 < ramp[H // 2, 0, 0] < 155


def test_gradient_is_vertical() -> None:
    image = np.asarray(gradient((30, 11), RGBA(0, 0, 0, 255), RGBA(250, 250, 250, 255)))
    assert (image[:, 0] == image[:, -1]).all()
    assert list(image[:, 0, 0]) == [0, 25, 50, 75, 100, 125, 150, 175, 200, 225, 250]


def test_rgb_and_jpg_flatten_onto_white_or_bg_color() -> None:
    rgb, alpha = scene()
    for flat in (options(channels="rgb"), options(format="jpg")):
        picture = compose(rgb, alpha, flat)
        assert picture.mode == "RGB"
        assert picture.getpixel((5, 5)) == (255, 255, 255)
    tinted = compose(rgb, alpha, options(channels="rgb", bg_color="black"))
    assert tinted.getpixel((5, 5)) == (0, 0, 0)


def test_alpha_channel_is_the_mask() -> None:
    rgb, alpha = scene()
    picture = compose(rgb, alpha, options(channels="alpha"))
    assert picture.mode == "L"
    assert np.array_equal(np.asarray(picture), np.asarray(alpha))


@pytest.mark.parametrize("margin", [Length(0, "px"), Length(15, "px"), Length(10, "%")])
def test_crop_contains_the_whole_subject_plus_the_margin(margin: Length) -> None:
    _, alpha = scene()
    subject = foreground_box(alpha)
    assert subject == SUBJECT
    box = crop_box(subject, margin, (W, H))
    dx, dy = margin.pixels(SUBJECT.width, SUBJECT.height)
    assert box.left <= SUBJECT.left - dx
    assert box.top <= SUBJECT.top - dy
    assert box.right >= SUBJECT.right + dx
    assert box.bottom >= SUBJECT.bottom + dy
    assert (box.width, box.height) == (SUBJECT.width + 2 * dx, SUBJECT.height + 2 * dy)


def test_crop_past_the_edge_pads_with_transparency() -> None:
    alpha = Image.new("L", (100, 100), 0)
    alpha.paste(255, (0, 0, 30, 30))
    box = crop_box(foreground_box(alpha), Length(10, "px"), (100, 100))
    assert box == Box(-10, -10, 40, 40)


def test_no_subject_keeps_the_whole_frame() -> None:
    assert foreground_box(Image.new("L", (50, 40), 5)) is None
    assert crop_box(None, Length(10, "px"), (50, 40)) == Box(0, 0, 50, 40)


@pytest.mark.parametrize(
    ("size", "preset", "expected"),
    [
        ((1600, 1200), SizePreset.PREVIEW, (256, 192)),
        ((1200, 1600), SizePreset.SMALL, (384, 512)),
        ((1600, 1200), SizePreset.MEDIUM, (1024, 768)),
        ((1600, 1200), SizePreset.LARGE, (1600, 1200)),  # never upscaled
        ((4000, 3000), SizePreset.LARGE, (2048, 1536)),
        ((640, 480), SizePreset.FULL, (640, 480)),
    ],
)
def test_size_presets_bound_the_longest_side(
    size: tuple[int, int], preset: SizePreset, expected: tuple[int, int]
) -> None:
    assert target_size(size, preset) == expected


def test_input_transparency_limits_the_output_alpha() -> None:
    mask = Image.new("L", (10, 10), 255)
    input_alpha = Image.new("L", (10, 10), 255)
    input_alpha.paste(0, (0, 0, 5, 10))
    alpha = np.asarray(subject_alpha(mask, input_alpha))
    assert (alpha[:, :5] == 0).all()
    assert (alpha[:, 5:] == 255).all()


def test_box_moves_into_crop_coordinates_and_scales() -> None:
    assert Box(60, 40, 140, 120).moved_and_scaled(Box(50, 30, 150, 130), 0.5) == Box(5, 5, 45, 45)
