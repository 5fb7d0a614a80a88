"""Real photographs (scikit-image's sample data) and deliberately broken files for tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from skimage import data

PHOTOS = ("astronaut", "chelsea", "coffee")


def photo(name: str) -> Image.Image:
    """One of scikit-image's sample photographs as an RGB image."""
    array = getattr(data, name)()
    return Image.fromarray(np.asarray(array, dtype=np.uint8)).convert("RGB")


def jpeg_bytes(image: Image.Image, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def photo_jpeg(name: str) -> bytes:
    return jpeg_bytes(photo(name))


def alpha_of(png: bytes) -> np.ndarray:
    """The alpha channel of an encoded RGBA image, as a uint8 array."""
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "RGBA", image.mode
        return np.asarray(image.getchannel("A"))


SUBJECT_BOXES = {
    # (top, left, bottom, right) well inside the subject: must come out fully opaque.
    "astronaut": (70, 200, 150, 260),  # the face
    "chelsea": (20, 60, 110, 280),  # the cat's head
    "coffee": (150, 180, 250, 420),  # the cup
}


def opaque_fraction(alpha: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Share of fully opaque pixels inside ``box``."""
    top, left, bottom, right = box
    return float((alpha[top:bottom, left:right] == 255).mean())


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """A pixel as a tuple of ints, whatever the mode (a typed ``getpixel``)."""
    value = image.getpixel(xy)
    if isinstance(value, tuple):
        return tuple(int(v) for v in value)
    assert isinstance(value, int | float), value
    return (int(value),)
