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
from processors.segmenters import RuntimeOptions, load_segmenter
from schemas import ErrorCode, RemovalOptions
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
        load_segmenter("u2net", tmp_path, RuntimeOptions())


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
        load_segmenter("u2netp", tmp_path, RuntimeOptions())


def test_cpu_provider_is_always_available() -> None:
    runtime = RuntimeOptions(providers=("NoSuchExecutionProvider",))
    assert runtime.available_providers() == ["CPUExecutionProvider"]
