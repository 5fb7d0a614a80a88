"""The image path with the real u2netp weights on real photographs."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from processors import InvalidImageError, ModelNotInstalledError, Remover, UnknownModelError
from processors.compose import refine_mask
from processors.exceptions import ModelChecksumError
from processors.segmenters import ModelRegistry, RuntimeOptions
from schemas.errors import ErrorCode
from schemas.options import RemovalOptions
from tests.golden import golden_path, shrink_alpha
from tests.images import PHOTOS, SUBJECT_BOXES, alpha_of, opaque_fraction, photo, photo_jpeg


@pytest.mark.parametrize("name", PHOTOS)
def test_cutout_is_rgba_png_of_input_size_with_opaque_subject(remover: Remover, name: str) -> None:
    source = photo(name)
    result = remover.remove(photo_jpeg(name), RemovalOptions())

    assert result.content_type == "image/png"
    assert result.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert (result.width, result.height) == source.size
    alpha = alpha_of(result.data)
    assert alpha.shape == (source.height, source.width)
    assert (alpha == 0).mean() > 0.05, "no fully transparent background"
    assert (alpha == 255).mean() > 0.2, "no fully opaque subject"
    assert opaque_fraction(alpha, SUBJECT_BOXES[name]) > 0.98


def test_transparent_pixels_carry_no_colour(remover: Remover) -> None:
    result = remover.remove(photo_jpeg("coffee"), RemovalOptions())
    with Image.open(io.BytesIO(result.data)) as image:
        pixels = np.asarray(image)
    transparent = pixels[..., 3] == 0
    assert transparent.any()
    assert not pixels[transparent][:, :3].any()


def test_subject_pixels_keep_their_colour(remover: Remover) -> None:
    source = np.asarray(photo("astronaut"), dtype=np.int16)
    result = remover.remove(photo_jpeg("astronaut"), RemovalOptions())
    with Image.open(io.BytesIO(result.data)) as image:
        pixels = np.asarray(image, dtype=np.int16)
    top, left, bottom, right = SUBJECT_BOXES["astronaut"]
    difference = np.abs(pixels[top:bottom, left:right, :3] - source[top:bottom, left:right])
    assert difference.mean() < 4  # only JPEG round-trip noise


def test_refine_mask_stretches_and_clips() -> None:
    mask = Image.fromarray(np.array([[0, 10, 11, 128, 244, 245, 255]], dtype=np.uint8))
    refined = np.asarray(refine_mask(mask))[0]
    assert refined[0] == refined[1] == 0
    assert 0 < refined[2] < 5
    assert 120 < refined[3] < 136
    assert 250 < refined[4] < 255
    assert refined[5] == refined[6] == 255


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("zero bytes", b""),
        ("text", b"hello, this is not an image"),
        ("truncated jpeg", photo_jpeg("astronaut")[:2000]),
        ("jpeg header only", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
    ],
)
def test_bad_input_is_an_invalid_image_error(remover: Remover, label: str, data: bytes) -> None:
    with pytest.raises(InvalidImageError) as caught:
        remover.remove(data, RemovalOptions())
    assert caught.value.code is ErrorCode.INVALID_IMAGE_FORMAT
    assert not caught.value.retryable


def test_missing_model_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalledError, match="cutstream models pull u2net`"):
        ModelRegistry(tmp_path).load("u2net", RuntimeOptions())


def test_unknown_model_lists_known_ones(remover: Remover) -> None:
    with pytest.raises(UnknownModelError, match="u2netp") as caught:
        remover.remove(photo_jpeg("coffee"), RemovalOptions(model="no-such-model"))
    assert caught.value.code is ErrorCode.UNKNOWN_MODEL


def test_model_file_is_verified_at_load(tmp_path: Path, model_dir: Path) -> None:
    damaged = tmp_path / "u2netp.onnx"
    shutil.copyfile(model_dir / "u2netp.onnx", damaged)
    with damaged.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00" * 16)
    with pytest.raises(ModelChecksumError, match="sha256"):
        ModelRegistry(tmp_path).load("u2netp", RuntimeOptions())


def test_cpu_provider_is_always_available() -> None:
    runtime = RuntimeOptions(providers=("NoSuchExecutionProvider",))
    assert runtime.available_providers() == ["CPUExecutionProvider"]


@pytest.mark.parametrize("name", PHOTOS)
def test_masks_match_the_golden_ones_within_tolerance(
    remover: Remover, name: str, tmp_path: Path
) -> None:
    actual = shrink_alpha(remover.remove(photo_jpeg(name), RemovalOptions()).data)
    with Image.open(golden_path(name)) as golden_image:
        golden = np.asarray(golden_image)
    saved = tmp_path / f"{name}.actual.png"
    Image.fromarray(actual, "L").save(saved)
    assert actual.shape == golden.shape
    mad = np.abs(actual.astype(int) - golden.astype(int)).mean() / 255
    union = ((actual > 127) | (golden > 127)).sum()
    iou = ((actual > 127) & (golden > 127)).sum() / union
    assert mad < 0.02, f"mean abs difference {mad:.4f}; actual mask saved at {saved}"
    assert iou > 0.97, f"IoU {iou:.4f}; actual mask saved at {saved}"


@pytest.mark.parametrize(
    ("fmt", "magic", "content_type", "mode"),
    [
        ("png", b"\x89PNG", "image/png", "RGBA"),
        ("webp", b"RIFF", "image/webp", "RGBA"),
        ("auto", b"RIFF", "image/webp", "RGBA"),
        ("jpg", b"\xff\xd8\xff", "image/jpeg", "RGB"),
    ],
)
def test_output_formats(
    remover: Remover, fmt: str, magic: bytes, content_type: str, mode: str
) -> None:
    result = remover.remove(photo_jpeg("coffee"), RemovalOptions.model_validate({"format": fmt}))
    assert result.data.startswith(magic)
    assert result.content_type == content_type
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.mode == mode
        assert image.size == (600, 400)
        if mode == "RGB":  # flattened onto white
            assert image.getpixel((2, 2)) == pytest.approx((255, 255, 255), abs=3)


def test_alpha_channel_output_is_the_mask(remover: Remover) -> None:
    rgba = remover.remove(photo_jpeg("coffee"), RemovalOptions())
    mask = remover.remove(photo_jpeg("coffee"), RemovalOptions(channels="alpha"))
    with Image.open(io.BytesIO(mask.data)) as image:
        assert image.mode == "L"
        assert np.array_equal(np.asarray(image), alpha_of(rgba.data))


def test_crop_and_size_preset_together(remover: Remover) -> None:
    options = RemovalOptions.model_validate(
        {"crop": True, "crop_margin": "20px", "size": "preview"}
    )
    result = remover.remove(photo_jpeg("coffee"), options)
    assert max(result.width, result.height) <= 256
    full = remover.remove(photo_jpeg("coffee"), RemovalOptions())
    assert full.foreground is not None
    # the crop keeps the subject's aspect ratio plus the margin
    expected_ratio = (full.foreground.width + 40) / (full.foreground.height + 40)
    assert result.width / result.height == pytest.approx(expected_ratio, rel=0.02)
    assert result.foreground is not None
    assert result.foreground.left == pytest.approx(
        20 * 256 / max(full.foreground.width + 40, full.foreground.height + 40), abs=2
    )


def test_foreground_box_is_reported_in_output_pixels(remover: Remover) -> None:
    full = remover.remove(photo_jpeg("astronaut"), RemovalOptions())
    small = remover.remove(photo_jpeg("astronaut"), RemovalOptions(size="preview"))
    assert full.foreground is not None
    assert small.foreground is not None
    assert (small.width, small.height) == (256, 256)
    assert small.foreground.width == pytest.approx(full.foreground.width / 2, abs=2)
    alpha = alpha_of(full.data)
    box = full.foreground
    assert (alpha[: box.top] < 32).all()
    assert (alpha[box.bottom :] < 32).all()


def test_blur_on_a_real_photo_keeps_the_subject(remover: Remover) -> None:
    source = np.asarray(photo("coffee"), dtype=np.int16)
    cutout = remover.remove(photo_jpeg("coffee"), RemovalOptions())
    blurred = remover.remove(photo_jpeg("coffee"), RemovalOptions(bg_blur=20, format="png"))
    alpha = alpha_of(cutout.data)
    with Image.open(io.BytesIO(blurred.data)) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    subject, background = alpha == 255, alpha == 0
    assert np.abs(pixels[subject] - source[subject]).mean() < 4
    assert (
        np.abs(pixels[background] - source[background]).mean()
        > 2 * np.abs(pixels[subject] - source[subject]).mean()
    )


def test_input_transparency_is_kept(remover: Remover) -> None:
    image = photo("coffee").convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 300, 400))  # left half transparent
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    alpha = alpha_of(remover.remove(buffer.getvalue(), RemovalOptions()).data)
    assert (alpha[:, :300] == 0).all()
    assert (alpha[:, 300:] == 255).any()
