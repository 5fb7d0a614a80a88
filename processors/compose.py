"""From image + mask to the delivered picture: alpha, crop, size, background, shadow.

All functions are pure and work in output pixels once cropping and resizing are done, so
shadow offsets and blur radii mean the same thing at every size preset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops, ImageFilter

from processors.exceptions import UnusableOptionsError
from schemas.colors import RGBA
from schemas.geometry import Anchor, Length, Roi
from schemas.options import BackgroundFit, Channels, FileOptions, Quality, SizePreset

MASK_LOW = 10
"""Mask values at or below this become fully transparent (saliency noise in the background)."""
MASK_HIGH = 245
"""Mask values at or above this become fully opaque (saliency models rarely reach 255)."""
BBOX_THRESHOLD = 32
"""Alpha at or above this counts as subject when measuring the subject's bounds."""
WHITE = RGBA(255, 255, 255, 255)

_REFINE_LUT = np.rint(
    np.clip((np.arange(256, dtype=np.float32) - MASK_LOW) * 255.0 / (MASK_HIGH - MASK_LOW), 0, 255)
).astype(np.uint8)

CONTRAST_CENTRE = 0.2
CONTRAST_GAIN = 48.0
"""The ``best`` quality's curve: a logistic around 0.2 (of the mirror-averaged mask),
rescaled to 0..1. Averaging two runs ranks pixels better (max F up) but softens the mask
(MAE up); a curve centred below 0.5 turns that into a lower MAE too. Chosen by 5-fold
cross-validation on sod-dev for the default model (``make crossval``; the out-of-fold
scores are in docs/quality.md): the curve the folds agree on, refit on all of it. The grid
stops at gain 48: steeper curves are thresholds, which score well against binary truth but
leave stair-stepped edges."""


def _logistic_lut(centre: float, gain: float) -> npt.NDArray[np.uint8]:
    values = np.arange(256, dtype=np.float64) / 255.0
    curve = 1.0 / (1.0 + np.exp(-gain * (values - centre)))
    low, high = 1.0 / (1.0 + np.exp(gain * centre)), 1.0 / (1.0 + np.exp(-gain * (1 - centre)))
    lut: npt.NDArray[np.uint8] = np.rint((curve - low) / (high - low) * 255).astype(np.uint8)
    return lut


_CONTRAST_LUT = _logistic_lut(CONTRAST_CENTRE, CONTRAST_GAIN)


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels: ``left``/``top`` inclusive, ``right``/``bottom`` exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.right, self.bottom)

    def moved_and_scaled(self, origin: Box, scale: float) -> Box:
        """This box in the coordinates of ``origin`` (a crop) scaled by ``scale``."""
        return Box(
            round((self.left - origin.left) * scale),
            round((self.top - origin.top) * scale),
            round((self.right - origin.left) * scale),
            round((self.bottom - origin.top) * scale),
        )


def refine_mask(mask: Image.Image) -> Image.Image:
    """Stretch ``[MASK_LOW, MASK_HIGH]`` to ``[0, 255]`` and clip: a solid subject, a clean
    background, and the soft edge band kept as it was predicted."""
    return mask.point(_REFINE_LUT.tolist())


def subject_alpha(
    mask: Image.Image, input_alpha: Image.Image | None, quality: Quality = Quality.BALANCED
) -> Image.Image:
    """The output alpha: the refined mask (the contrast curve for ``best``), within the
    input's own transparency if any."""
    alpha = mask.point(_CONTRAST_LUT.tolist()) if quality is Quality.BEST else refine_mask(mask)
    return alpha if input_alpha is None else ImageChops.multiply(alpha, input_alpha)


def foreground_box(alpha: Image.Image) -> Box | None:
    """Bounds of the pixels with alpha ≥ ``BBOX_THRESHOLD``; ``None`` when there are none."""
    bounds = alpha.point(lambda v: 255 if v >= BBOX_THRESHOLD else 0).getbbox()
    return Box(*bounds) if bounds else None


def crop_box(subject: Box | None, margin: Length, size: tuple[int, int]) -> Box:
    """The subject plus ``margin`` on every side. It may reach past the image, which then
    gets transparent padding; with no subject the whole image is kept."""
    if subject is None:
        return Box(0, 0, *size)
    dx, dy = margin.pixels(subject.width, subject.height)
    return Box(subject.left - dx, subject.top - dy, subject.right + dx, subject.bottom + dy)


def within_roi(alpha: Image.Image, roi: Roi | None) -> Image.Image:
    """``alpha`` with everything outside the region of interest transparent."""
    if roi is None:
        return alpha
    kept = Image.new("L", alpha.size, 0)
    box = roi.box(*alpha.size)
    kept.paste(alpha.crop(box), box[:2])
    return kept


def _shadow_reach(options: FileOptions) -> tuple[int, int, int, int]:
    """How far past the subject its shadow shows (left, top, right, bottom), in output
    pixels: the offset plus twice the blur radius, where the blur still shows."""
    if not options.shadow:
        return 0, 0, 0, 0
    (dx, dy), reach = options.shadow_offset, 2 * options.shadow_blur
    return max(0, reach - dx), max(0, reach - dy), max(0, dx + reach), max(0, dy + reach)


def canvas_frame(
    subject: Box | None, size: tuple[int, int], options: FileOptions
) -> tuple[Box, tuple[int, int]]:
    """The part of the picture (in its pixels; it may reach past its edges) that becomes
    the canvas, and the canvas's size: the subject (the whole picture if none was found)
    with its shadow, scaled to fit the canvas less the padding — enlarged at most
    ``max_upscale`` times — and placed by ``align``. ``size`` (the preset) shrinks the
    whole canvas, padding included."""
    if options.canvas is None:
        raise ValueError("canvas_frame needs options with a canvas")
    canvas = options.canvas
    width, height = target_size((canvas.width, canvas.height), options.size)
    shrink = width / canvas.width
    pad_x = options.padding.of(canvas.width) * shrink
    pad_y = options.padding.of(canvas.height) * shrink
    subject = subject or Box(0, 0, *size)
    reach_left, reach_top, reach_right, reach_bottom = _shadow_reach(options)
    room = (
        width - 2 * pad_x - reach_left - reach_right,
        height - 2 * pad_y - reach_top - reach_bottom,
    )
    if min(room) < 1:
        raise UnusableOptionsError(
            f"padding {options.padding.text()} (and the shadow) leaves no room for the "
            f"subject on the {width}x{height} canvas"
        )
    scale = min(room[0] / subject.width, room[1] / subject.height, options.max_upscale)
    spare_x = room[0] - subject.width * scale
    spare_y = room[1] - subject.height * scale
    fx, fy = options.align.fractions
    left = pad_x + reach_left + spare_x * fx  # the subject's place on the canvas
    top = pad_y + reach_top + spare_y * fy
    origin_x, origin_y = subject.left - left / scale, subject.top - top / scale
    box = Box(
        round(origin_x),
        round(origin_y),
        round(origin_x + width / scale),
        round(origin_y + height / scale),
    )
    return box, (width, height)


def canvas_bytes(options: FileOptions) -> int:
    """Picture memory a canvas adds beyond the input's: the canvas plane, the layer under
    it and the flattened copy, four bytes a pixel (0 without a canvas)."""
    if options.canvas is None:
        return 0
    width, height = target_size((options.canvas.width, options.canvas.height), options.size)
    return width * height * 4 * 3


def target_size(size: tuple[int, int], preset: SizePreset) -> tuple[int, int]:
    """``size`` shrunk (never grown) so its longest side fits ``preset``."""
    limit = preset.max_dimension
    width, height = size
    if limit is None or max(width, height) <= limit:
        return size
    scale = limit / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def cut_and_scale(
    rgb: Image.Image, alpha: Image.Image, box: Box, size: tuple[int, int]
) -> tuple[Image.Image, Image.Image]:
    """Crop both planes to ``box`` (padding outside the image: black, transparent) and
    resize them to ``size``."""
    if box.as_tuple() != (0, 0, *rgb.size):
        rgb, alpha = rgb.crop(box.as_tuple()), alpha.crop(box.as_tuple())
    if rgb.size != size:
        rgb = rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        alpha = alpha.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    return rgb, alpha


def solid(size: tuple[int, int], color: RGBA) -> Image.Image:
    return Image.new("RGBA", size, tuple(color))


def gradient(size: tuple[int, int], top: RGBA, bottom: RGBA) -> Image.Image:
    """A vertical linear gradient from ``top`` to ``bottom``."""
    width, height = size
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, np.newaxis]
    column = np.rint(np.asarray(top) * (1 - t) + np.asarray(bottom) * t).astype(np.uint8)
    return Image.fromarray(column[:, np.newaxis, :], "RGBA").resize(
        (width, height), Image.Resampling.NEAREST
    )


def blurred_background(rgb: Image.Image, alpha: Image.Image, radius: int) -> Image.Image:
    """The image's own background, Gaussian-blurred, opaque.

    A normalised blur: each pixel is weighted by how much it is background (premultiplied
    by ``255 - alpha``), so the subject's colours do not bleed into the blurred background
    around it.
    """
    weighted = rgb.convert("RGBA")
    weighted.putalpha(ImageChops.invert(alpha))
    blurred = weighted.convert("RGBa").filter(ImageFilter.GaussianBlur(radius)).convert("RGBA")
    opaque = blurred.convert("RGB").convert("RGBA")
    # Deep inside the subject no background is in reach: use the plain blur there (the
    # subject covers it anyway; this only matters for the soft edge band).
    fallback = rgb.filter(ImageFilter.GaussianBlur(radius)).convert("RGBA")
    return Image.composite(
        opaque, fallback, blurred.getchannel("A").point(lambda v: 255 if v else 0)
    )


def shadow_layer(
    alpha: Image.Image, color: RGBA, offset: tuple[int, int], blur: int
) -> Image.Image:
    """The subject's silhouette in ``color`` (its alpha scales the strength), moved by
    ``offset`` and softened by a Gaussian blur of radius ``blur``.
    :class:`UnusableOptionsError` when the offset moves it entirely off the picture."""
    width, height = alpha.size
    if abs(offset[0]) >= width or abs(offset[1]) >= height:
        raise UnusableOptionsError(
            f"shadow_offset {offset[0]},{offset[1]} moves the shadow off the {width}x{height} "
            "picture (the offset is in output pixels)"
        )
    silhouette = Image.new("L", alpha.size, 0)
    silhouette.paste(alpha.point(lambda v: v * color.a // 255), offset)
    if blur:
        silhouette = silhouette.filter(ImageFilter.GaussianBlur(blur))
    layer = Image.new("RGBA", alpha.size, (color.r, color.g, color.b, 0))
    layer.putalpha(silhouette)
    return layer


def fitted(
    backdrop: Image.Image,
    size: tuple[int, int],
    fit: BackgroundFit,
    position: Anchor = Anchor.CENTER,
) -> Image.Image:
    """``backdrop`` (RGBA) made ``size``: scaled to cover it (cropped at ``position``),
    to fit inside it (placed at ``position`` on transparency) or stretched to it."""
    width, height = size
    if fit is BackgroundFit.STRETCH:
        return backdrop.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    scale = (max if fit is BackgroundFit.COVER else min)(
        width / backdrop.width, height / backdrop.height
    )
    scaled = (max(1, round(backdrop.width * scale)), max(1, round(backdrop.height * scale)))
    image = backdrop.resize(scaled, Image.Resampling.LANCZOS, reducing_gap=2.0)
    ax, ay = position.fractions
    left, top = round((width - scaled[0]) * ax), round((height - scaled[1]) * ay)
    if fit is BackgroundFit.COVER:
        return image.crop((-left, -top, -left + width, -top + height))
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    layer.paste(image, (left, top))
    return layer


def _background(
    rgb: Image.Image, alpha: Image.Image, options: FileOptions, backdrop: Image.Image | None
) -> Image.Image | None:
    """The layer under the subject, or ``None`` for a plain cutout."""
    if options.bg_image is not None:
        if backdrop is None:
            raise ValueError("bg_image is set but no backdrop was given")
        return fitted(backdrop, rgb.size, options.bg_fit, options.bg_position)
    if options.bg_color is not None:
        return solid(rgb.size, options.bg_color)
    if options.bg_blur is not None:
        return blurred_background(rgb, alpha, options.bg_blur)
    if options.bg_gradient is not None:
        return gradient(rgb.size, *options.bg_gradient)
    if options.shadow:
        return solid(rgb.size, RGBA(0, 0, 0, 0))
    return None


def compose(
    rgb: Image.Image,
    alpha: Image.Image,
    options: FileOptions,
    backdrop: Image.Image | None = None,
) -> Image.Image:
    """The picture to encode: "L" (the mask), "RGB" (flattened) or "RGBA". ``backdrop``
    is the decoded ``bg_image`` (RGBA), when the options name one.

    ``rgb`` is consumed: the cutout is built in its own memory (Pillow keeps RGB at four
    bytes a pixel, so adding the alpha channel in place costs nothing, where a copy of a
    50-megapixel picture costs 200 MB)."""
    if options.channels is Channels.ALPHA:
        return alpha
    background = _background(rgb, alpha, options, backdrop)
    picture = rgb
    picture.putalpha(alpha)
    if background is not None:
        if options.shadow:
            background.alpha_composite(
                shadow_layer(
                    alpha, options.shadow_color, options.shadow_offset, options.shadow_blur
                )
            )
        background.alpha_composite(picture)
        picture = background
    if options.flattened:
        flat = solid(rgb.size, WHITE)
        flat.alpha_composite(picture)
        return flat.convert("RGB")
    return picture
