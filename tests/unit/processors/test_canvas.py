"""Canvases on real photos: exact sizes, the subject's fill and place for every `align`,
white corners for the marketplace presets, the upscale limit, the shadow inside the
frame, renditions with different canvases from one model run, and the region of
interest."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from processors import Remover
from processors.compose import BBOX_THRESHOLD
from schemas.geometry import Anchor
from schemas.options import FileOptions, RemovalOptions
from schemas.presets import PRESETS, RULES, Preset
from tests.images import jpeg_bytes, photo, photo_jpeg


def subject_bounds(image: Image.Image) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the subject in an output: where alpha shows it, or —
    opaque outputs — where the picture is not the flat background."""
    if image.mode == "RGBA":
        seen = np.asarray(image.getchannel("A")) >= BBOX_THRESHOLD
    else:
        pixels = np.asarray(image.convert("RGB")).astype(int)
        seen = np.abs(pixels - pixels[0, 0]).max(axis=2) > 24
    rows, columns = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def output(remover: Remover, data: bytes, **options: object) -> Image.Image:
    result = remover.remove(data, RemovalOptions.model_validate(options))
    image = Image.open(io.BytesIO(result.data))
    image.load()
    assert image.size == (result.width, result.height)
    return image


def cup(width: int) -> bytes:
    """The coffee photo (3:2) enlarged to ``width``."""
    picture = photo("coffee")
    return jpeg_bytes(picture.resize((width, width * 2 // 3), Image.Resampling.LANCZOS))


@pytest.fixture(scope="module")
def cup_1600() -> bytes:
    """A subject large enough to fill every preset's canvas within 2x."""
    return cup(1600)


@pytest.mark.parametrize("align", list(Anchor))
def test_the_subject_fills_the_canvas_less_padding_and_sits_by_align(
    remover: Remover, align: Anchor
) -> None:
    image = output(
        remover, photo_jpeg("coffee"), canvas="1000x1000", padding="10%", align=align.value
    )
    assert image.size == (1000, 1000)
    left, top, right, bottom = subject_bounds(image)
    longer = max(right - left, bottom - top)
    assert 790 <= longer <= 810  # 10% each side: 800 px, within 1%
    fx, fy = align.fractions
    spare_x, spare_y = 800 - (right - left), 800 - (bottom - top)
    assert abs(left - (100 + spare_x * fx)) <= 10
    assert abs(top - (100 + spare_y * fy)) <= 10


def test_the_done_when_example_a_white_jpeg_square(remover: Remover) -> None:
    square = {"canvas": "1000x1000", "padding": "10%", "bg_color": "white", "format": "jpg"}
    image = output(remover, photo_jpeg("coffee"), **square)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (1000, 1000))
    corners = [image.getpixel(xy) for xy in ((0, 0), (999, 0), (0, 999), (999, 999))]
    assert all(min(pixel) >= 254 for pixel in corners)  # type: ignore[arg-type]
    left, top, right, bottom = subject_bounds(image)
    assert 0.78 <= max(right - left, bottom - top) / 1000 <= 0.82
    assert abs((left + right) / 2 - 500) <= 10
    assert abs((top + bottom) / 2 - 500) <= 10


@pytest.mark.parametrize("preset", list(Preset))
def test_every_preset_gives_its_canvas_with_pure_white_corners(
    remover: Remover, cup_1600: bytes, preset: Preset
) -> None:
    image = output(remover, cup_1600, preset=preset.value)
    width, height = (int(side) for side in PRESETS[preset]["canvas"].split("x"))
    assert (image.size, image.format) == ((width, height), "JPEG")
    assert min(image.size) >= 1000
    for xy in ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)):
        assert image.getpixel(xy) == (255, 255, 255)
    left, top, right, bottom = subject_bounds(image)
    padding = float(PRESETS[preset]["padding"].rstrip("%")) / 100
    assert abs(max(right - left, bottom - top) / width - (1 - 2 * padding)) <= 0.01
    assert RULES[preset].source  # every preset says where its rules come from


def test_amazon_fills_85_percent_from_a_smaller_photo(remover: Remover) -> None:
    image = output(remover, cup(1200), preset="amazon")  # the cup needs 2.2x here
    left, top, right, bottom = subject_bounds(image)
    assert max(right - left, bottom - top) / 2000 >= 0.85


def test_a_preset_field_can_be_overridden(remover: Remover, cup_1600: bytes) -> None:
    image = output(remover, cup_1600, preset="amazon", format="png", bg_color=None)
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (2000, 2000))
    assert image.getpixel((0, 0))[3] == 0  # type: ignore[index]


def test_a_small_subject_is_not_enlarged_past_the_limit(remover: Remover) -> None:
    small = jpeg_bytes(photo("coffee").resize((150, 100), Image.Resampling.LANCZOS))
    full = subject_bounds(output(remover, small))
    on_canvas = subject_bounds(output(remover, small, canvas="1000x1000"))
    scale = (on_canvas[2] - on_canvas[0]) / (full[2] - full[0])
    assert 1.9 <= scale <= 2.05  # the default limit, 2x, not the 1000 px it could fill
    once = subject_bounds(output(remover, small, canvas="1000x1000", max_upscale=1))
    assert abs((once[2] - once[0]) - (full[2] - full[0])) <= 2


def test_the_shadow_stays_on_the_canvas(remover: Remover) -> None:
    corner = {"canvas": "600x600", "shadow": "true", "shadow_offset": (40, 40)}
    image = output(remover, photo_jpeg("coffee"), **corner, align="bottom-right")
    alpha = np.asarray(image.getchannel("A"))
    assert max(alpha[-1, :].max(), alpha[:, -1].max()) <= 8  # only the blur's faint tail
    assert alpha[-60:, :].max() > 0  # the shadow reaches down to the bottom right


def test_a_size_preset_shrinks_the_whole_canvas(remover: Remover) -> None:
    image = output(remover, photo_jpeg("coffee"), canvas="2000x1000", padding="10%", size="small")
    assert image.size == (512, 256)
    left, top, right, bottom = subject_bounds(image)
    assert (left, top) >= (50, 24)  # 10% of the shrunk canvas, 51 px and 26 px
    assert (right, bottom) <= (462, 232)


def test_renditions_with_different_canvases_from_one_model_run(remover: Remover) -> None:
    data = photo_jpeg("chelsea")
    base = RemovalOptions()
    files = [
        FileOptions(canvas="800x800", padding="10%", bg_color="white", format="jpg"),
        FileOptions(canvas="1200x600", align="left"),
        FileOptions(),
    ]
    results = remover.render(data, base, files)
    assert [(r.width, r.height) for r in results] == [(800, 800), (1200, 600), (451, 300)]
    wide = Image.open(io.BytesIO(results[1].data))
    assert subject_bounds(wide)[0] <= 2  # on the left edge


def test_the_region_of_interest_keeps_only_what_is_inside(remover: Remover) -> None:
    data = photo_jpeg("coffee")
    alpha = np.asarray(output(remover, data, roi="0,0,50%,100%").getchannel("A"))
    assert alpha[:, 300:].max() == 0
    whole = np.asarray(output(remover, data).getchannel("A"))
    assert np.array_equal(alpha[:, :300], whole[:, :300])
    cropped = output(remover, data, roi="0,0,300,400", crop="true")
    assert cropped.width <= 300  # the crop finds the subject inside the region only
