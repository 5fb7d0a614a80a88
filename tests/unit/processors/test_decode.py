"""Every decoder error code from a real malformed file; every colour mode to sRGB."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from processors.decode import AnimationPolicy, DecodeLimits, decode, header, sniff_format
from processors.exceptions import ProcessorError, ResolutionTooHighError
from schemas.errors import ErrorCode
from tests.images import photo, photo_jpeg, pixel
from tests.malformed import animated, encoded, jpeg_with_orientation, png_bomb, rgb_icc_profile

PNG = encoded(photo("coffee"), "PNG")


@pytest.mark.parametrize(
    ("label", "data", "limits", "code"),
    [
        ("zero bytes", b"", None, ErrorCode.INVALID_IMAGE_FORMAT),
        ("text", b"just some words, no picture", None, ErrorCode.INVALID_IMAGE_FORMAT),
        (
            "gif (wrong magic)",
            encoded(Image.new("RGB", (8, 8)), "GIF"),
            None,
            ErrorCode.INVALID_IMAGE_FORMAT,
        ),
        (
            "bmp (wrong magic)",
            encoded(Image.new("RGB", (8, 8)), "BMP"),
            None,
            ErrorCode.INVALID_IMAGE_FORMAT,
        ),
        (
            "png magic, garbage after",
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
            None,
            ErrorCode.INVALID_IMAGE_FORMAT,
        ),
        ("truncated jpeg", photo_jpeg("astronaut")[:5000], None, ErrorCode.INVALID_IMAGE_FORMAT),
        ("truncated png", PNG[: len(PNG) // 2], None, ErrorCode.INVALID_IMAGE_FORMAT),
        (
            "riff but truncated webp",
            b"RIFF\x10\x00\x00\x00WEBPVP8 \x00",
            None,
            ErrorCode.INVALID_IMAGE_FORMAT,
        ),
        ("over the byte limit", PNG, DecodeLimits(max_bytes=1000), ErrorCode.IMAGE_TOO_LARGE),
        ("png bomb over the pixel limit", png_bomb(), None, ErrorCode.RESOLUTION_TOO_HIGH),
        (
            "photo over a low pixel limit",
            PNG,
            DecodeLimits(max_pixels=100_000),
            ErrorCode.RESOLUTION_TOO_HIGH,
        ),
        ("animated webp", animated("WEBP"), None, ErrorCode.ANIMATED_IMAGE_NOT_SUPPORTED),
        ("animated png", animated("PNG"), None, ErrorCode.ANIMATED_IMAGE_NOT_SUPPORTED),
    ],
)
def test_each_failure_has_its_code(
    label: str, data: bytes, limits: DecodeLimits | None, code: ErrorCode
) -> None:
    with pytest.raises(ProcessorError) as caught:
        decode(data, limits)
    assert caught.value.code is code, caught.value
    assert not caught.value.retryable


def test_the_bomb_is_refused_before_its_pixels_are_decoded() -> None:
    bomb = png_bomb()
    assert len(bomb) < 200_000
    with (
        pytest.warns(Image.DecompressionBombWarning),
        Image.open(io.BytesIO(bomb)) as header_only,
    ):
        assert header_only.size == (10_000, 10_000)  # a real, valid 100-megapixel PNG


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_first_frame_policy_takes_the_first_frame(fmt: str) -> None:
    decoded = decode(animated(fmt), DecodeLimits(animation=AnimationPolicy.FIRST_FRAME))
    red, _, blue = pixel(decoded.rgb, (8, 8))
    assert red > 200
    assert blue < 50


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (photo_jpeg("coffee"), "JPEG"),
        (PNG, "PNG"),
        (encoded(Image.new("RGB", (4, 4)), "WEBP"), "WEBP"),
        (b"GIF89a", None),
        (b"RIFF\x00\x00\x00\x00WAVE", None),
    ],
)
def test_sniffing_by_magic_bytes(data: bytes, kind: str | None) -> None:
    assert sniff_format(data) == kind


def test_exif_orientation_is_applied() -> None:
    decoded = decode(jpeg_with_orientation((40, 20), orientation=6))  # rotate 90° clockwise
    assert decoded.size == (20, 40)
    top, bottom = pixel(decoded.rgb, (10, 2)), pixel(decoded.rgb, (10, 37))
    assert top[0] > 150  # the red half is now on top
    assert top[1] < 80
    assert bottom == pytest.approx((255, 255, 255), abs=10)


def test_cmyk_jpeg_becomes_rgb() -> None:
    cyan = Image.new("CMYK", (16, 16), (255, 0, 0, 0))
    decoded = decode(encoded(cyan, "JPEG", quality=100))
    r, g, b = pixel(decoded.rgb, (8, 8))
    assert decoded.rgb.mode == "RGB"
    assert r < 30
    assert g > 220
    assert b > 220


def test_palette_png_keeps_its_transparency() -> None:
    palette = Image.new("P", (10, 10), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(0, (0, 0, 5, 10))
    decoded = decode(encoded(palette, "PNG", transparency=0))
    assert decoded.alpha is not None
    assert decoded.alpha.getpixel((2, 5)) == 0
    assert decoded.alpha.getpixel((7, 5)) == 255
    assert decoded.rgb.getpixel((7, 5)) == (255, 0, 0)


def test_grey_with_alpha_keeps_its_alpha() -> None:
    la = Image.new("LA", (8, 8), (100, 40))
    decoded = decode(encoded(la, "PNG"))
    assert decoded.rgb.getpixel((1, 1)) == (100, 100, 100)
    assert decoded.alpha is not None
    assert decoded.alpha.getpixel((1, 1)) == 40


def test_opaque_alpha_is_dropped() -> None:
    decoded = decode(encoded(Image.new("RGBA", (8, 8), (1, 2, 3, 255)), "PNG"))
    assert decoded.alpha is None


def test_sixteen_bit_greyscale_keeps_its_range() -> None:
    values = np.array([[0, 0x4000], [0x8000, 0xFFFF]], dtype=np.uint16)
    decoded = decode(encoded(Image.fromarray(values), "PNG"))
    assert [pixel(decoded.rgb, (x, y))[0] for y in (0, 1) for x in (0, 1)] == [0, 64, 128, 255]


def test_greyscale_becomes_grey_rgb() -> None:
    decoded = decode(encoded(Image.new("L", (8, 8), 77), "JPEG", quality=100))
    assert decoded.rgb.getpixel((3, 3)) == pytest.approx((77, 77, 77), abs=1)


def test_icc_tagged_input_is_converted_to_srgb() -> None:
    source = Image.new("RGB", (8, 8), (180, 60, 40))
    icc = rgb_icc_profile()
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    assert ImageCms.getProfileDescription(profile).startswith("Adobe RGB")
    tagged = encoded(source, "PNG", icc_profile=icc)
    expected = ImageCms.profileToProfile(
        source, profile, ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")), outputMode="RGB"
    )
    assert expected is not None
    decoded = decode(tagged)
    assert decoded.rgb.getpixel((4, 4)) == expected.getpixel((4, 4))
    assert decoded.rgb.getpixel((4, 4)) != (180, 60, 40)


def test_srgb_tagged_and_broken_profiles_leave_pixels_alone() -> None:
    source = Image.new("RGB", (8, 8), (180, 60, 40))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for profile in (srgb, b"definitely not an ICC profile"):
        decoded = decode(encoded(source, "PNG", icc_profile=profile))
        assert decoded.rgb.getpixel((4, 4)) == (180, 60, 40)


def test_the_header_alone_answers_size_and_limits() -> None:
    picture = Image.new("1", (7000, 7000))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    data = buffer.getvalue()
    assert len(data) < 20_000
    found = header(data)
    assert (found.format, found.width, found.height) == ("PNG", 7000, 7000)
    assert found.decoded_bytes == 7000 * 7000 * 4
    with pytest.raises(ResolutionTooHighError, match="10,000,000"):
        header(data, DecodeLimits(max_pixels=10_000_000))


def test_a_bomb_past_pillows_own_cap_quotes_the_configured_limit() -> None:
    picture = Image.new("1", (8000, 8000))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    with pytest.raises(ResolutionTooHighError, match="20,000,000 pixels allowed"):
        decode(buffer.getvalue(), DecodeLimits(max_pixels=20_000_000))
