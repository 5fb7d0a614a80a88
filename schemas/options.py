"""The removal options: one model shared by every entry point (events, CLI, HTTP).

Every field is a flat scalar or pair so that it maps one-to-one onto a CLI flag
(``bg_color`` → ``--bg-color``) and a form field. Combinations that cannot be honoured are
rejected with an error located at the offending field, never silently ignored.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from schemas.colors import RGBA, Color
from schemas.geometry import (
    MAX_CANVAS_SIDE,
    Anchor,
    CanvasField,
    Length,
    RoiField,
    length_rules,
)
from schemas.presets import Preset, with_preset
from schemas.refs import ImageRef


class OutputFormat(StrEnum):
    PNG = "png"
    WEBP = "webp"
    JPG = "jpg"
    AUTO = "auto"
    """High-quality lossy WebP with a lossless alpha channel (the artworks shape's ``auto``)."""

    def resolved(self) -> OutputFormat:
        """The concrete format: ``auto`` is WebP."""
        return OutputFormat.WEBP if self is OutputFormat.AUTO else self

    @property
    def extension(self) -> str:
        """File name extension of an output in this format (``png``, ``webp``, ``jpg``)."""
        return self.resolved().value

    @property
    def media_type(self) -> str:
        """Content type of an output in this format."""
        return _MEDIA_TYPES[self.resolved().value]

    @classmethod
    def of_media_type(cls, media_type: str) -> OutputFormat:
        """The format whose outputs have ``media_type``."""
        return next(cls(name) for name, value in _MEDIA_TYPES.items() if value == media_type)


_MEDIA_TYPES = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg"}


class Channels(StrEnum):
    RGBA = "rgba"
    """The cutout with its alpha channel (or the composed picture, if a background is set)."""
    RGB = "rgb"
    """Opaque: flattened onto ``bg_color`` (white by default)."""
    ALPHA = "alpha"
    """The mask alone, as a greyscale image."""


class Quality(StrEnum):
    """How much work goes into the mask (measured on sod-dev: docs/quality.md)."""

    FAST = "fast"
    """Bilinear resampling of the mask: a little cheaper, a little softer."""
    BALANCED = "balanced"
    """One model run, Lanczos resampling and the edge stretch (the default)."""
    BEST = "best"
    """Two model runs (the image and its mirror image, averaged) and a contrast curve:
    about twice the model time, a tighter mask."""


class BackgroundFit(StrEnum):
    """How a background image fills the output."""

    COVER = "cover"
    """Scaled to cover the whole picture, cropped at ``bg_position``."""
    CONTAIN = "contain"
    """Scaled to fit inside the picture, placed at ``bg_position``; the rest stays
    transparent (white once flattened)."""
    STRETCH = "stretch"
    """Scaled to the picture's size exactly, aspect ratio ignored."""


def _image_reference(value: Any) -> Any:
    """A background image given as text: ``https://…`` (a URL) or ``s3://bucket/key``."""
    if not isinstance(value, str):
        return value
    if value.startswith("s3://"):
        bucket, _, key = value.removeprefix("s3://").partition("/")
        return {"kind": "s3", "bucket": bucket, "key": key}
    return {"kind": "url", "url": value}


class SizePreset(StrEnum):
    PREVIEW = "preview"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    FULL = "full"

    @property
    def max_dimension(self) -> int | None:
        """Largest output side in pixels; ``None`` keeps the input's resolution."""
        return _SIZE_LIMITS[self]


_SIZE_LIMITS: dict[SizePreset, int | None] = {
    SizePreset.PREVIEW: 256,
    SizePreset.SMALL: 512,
    SizePreset.MEDIUM: 1024,
    SizePreset.LARGE: 2048,
    SizePreset.FULL: None,
}

BACKGROUND_FIELDS = ("bg_color", "bg_blur", "bg_gradient", "bg_image")
"""The background replacements; at most one per request."""
BACKGROUND_DETAILS = ("bg_fit", "bg_position")
"""How ``bg_image`` is placed: only with a ``bg_image``."""
SHADOW_DETAILS = ("shadow_color", "shadow_offset", "shadow_blur")
"""How the shadow looks: only with ``shadow``."""

MAX_MARGIN_PX = 500
MAX_MARGIN_PERCENT = 50
MAX_PADDING_PERCENT = 45
"""Padding on each side, at most: 45 % leaves the subject a tenth of the canvas."""
DEFAULT_MAX_UPSCALE = 2.0
CANVAS_DETAILS = ("padding", "align", "max_upscale")
"""How the subject sits on a canvas: only with ``canvas``."""


MarginField = Annotated[
    Length, length_rules(MAX_MARGIN_PX, MAX_MARGIN_PERCENT, "the subject's size")
]
PaddingField = Annotated[
    Length, length_rules(MAX_CANVAS_SIDE // 2, MAX_PADDING_PERCENT, "the canvas side")
]


def _normalise_format(value: Any) -> Any:
    return "jpg" if isinstance(value, str) and value.lower() == "jpeg" else value


class MaskOptions(BaseModel):
    """What shapes the mask: one set per request, since the model runs once whatever the
    number of outputs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Segmentation model (see `cutstream models list`): a name of at most 64 "
        "letters, digits, `.`, `_` and `-`; unset: the worker's default.",
        examples=["u2netp", "u2net"],
    )
    quality: Quality = Field(
        default=Quality.BALANCED,
        description="fast, balanced or best: best runs the model twice (the image and its "
        "mirror image) for a tighter mask, at about twice the model time.",
    )
    roi: RoiField | None = Field(
        default=None,
        description="Region of interest, x,y,w,h in pixels or percent of the input "
        "(10%,0,80%,100%): only a subject inside it is kept, everything outside is "
        "background. Shapes the mask, so it is the request's (every rendition shares it).",
    )


class FileOptions(BaseModel):
    """What shapes one output file from the mask: its encoding, background, shadow, size
    and framing. A request's renditions each have their own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: Preset | None = Field(
        default=None,
        description="A marketplace's image rules as plain options (docs/options.md#presets): "
        + ", ".join(f"`{preset.value}`" for preset in Preset)
        + ". Any option given with it wins over the preset's value.",
    )
    format: Annotated[OutputFormat, BeforeValidator(_normalise_format)] = Field(
        default=OutputFormat.PNG,
        description="Output encoding: png (lossless), webp, jpg (always opaque: "
        "flattened onto bg_color, white by default) or auto (high-quality WebP).",
    )
    channels: Channels = Field(
        default=Channels.RGBA,
        description="rgba: keep transparency; rgb: flatten onto bg_color (white by "
        "default); alpha: the mask only.",
    )
    bg_color: Color | None = Field(
        default=None,
        description="Background colour behind the subject, e.g. #ffffff, rgba(0,0,0,0.5), "
        "(255, 140, 0, 255) or white.",
    )
    bg_blur: int | None = Field(
        default=None,
        ge=1,
        le=50,
        description="Replace the background with the image's own background blurred by "
        "this Gaussian radius (1-50 px).",
    )
    bg_gradient: tuple[Color, Color] | None = Field(
        default=None,
        description="Replace the background with a vertical gradient: [top colour, bottom colour].",
    )
    bg_image: Annotated[ImageRef, BeforeValidator(_image_reference)] | None = Field(
        default=None,
        description="Replace the background with an image: an https URL (the same URL rules "
        "as inputs), an object reference ({bucket, key}, or `s3://bucket/key`, readable by "
        "the account like an input) or, over HTTP, an uploaded file. Decoded with the same "
        "limits as inputs.",
    )
    bg_fit: BackgroundFit = Field(
        default=BackgroundFit.COVER,
        description="How bg_image fills the picture: cover (crop to fill), contain (fit "
        "inside, the rest transparent) or stretch.",
    )
    bg_position: Anchor = Field(
        default=Anchor.CENTER,
        description="Where bg_image is anchored when cover crops it or contain leaves room: "
        "center, top, bottom, left, right, top-left, top-right, bottom-left, bottom-right.",
    )
    shadow: bool = Field(default=False, description="Draw a drop shadow under the subject.")
    shadow_color: Color = Field(
        default=RGBA(0, 0, 0, 110),
        description="Shadow colour; its alpha sets the shadow's strength.",
    )
    shadow_offset: tuple[int, int] = Field(
        default=(12, 12),
        description="Shadow offset [x, y] in output pixels; positive is right and down.",
    )
    shadow_blur: int = Field(
        default=12, ge=0, le=100, description="Gaussian blur radius of the shadow's edges."
    )
    size: SizePreset = Field(
        default=SizePreset.FULL,
        description="Largest output side: preview 256, small 512, medium 1024, large "
        "2048, full = the input's. Never upscales.",
    )
    output_quality: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Encoding quality of webp and jpg outputs (1-100; default 90). PNG is "
        "lossless and takes none.",
    )
    crop: bool = Field(default=False, description="Crop the output to the subject's bounds.")
    crop_margin: MarginField = Field(
        default=Length(0, "px"),
        description=f"Space kept around the subject when cropping: pixels (max "
        f"{MAX_MARGIN_PX}) or percent of the subject size (max {MAX_MARGIN_PERCENT}%).",
    )
    canvas: CanvasField | None = Field(
        default=None,
        description="An exact output size, WIDTHxHEIGHT (2000x2000): the subject (its "
        "bounds, shadow included) is scaled to fit inside the canvas less `padding` and "
        "placed by `align`; the rest is the background (transparent if none). `size` "
        "shrinks the whole canvas.",
    )
    padding: PaddingField = Field(
        default=Length(0, "px"),
        description="Space on each side of the subject on a canvas: pixels, or percent of "
        f"the canvas side (10% on 1000x1000: the subject's longer side is 800 px; max "
        f"{MAX_PADDING_PERCENT}%).",
    )
    align: Anchor = Field(
        default=Anchor.CENTER,
        description="Where the subject sits on a canvas: center, top, bottom, left, right, "
        "top-left, top-right, bottom-left, bottom-right (shoes and bottles: bottom).",
    )
    max_upscale: float = Field(
        default=DEFAULT_MAX_UPSCALE,
        ge=1,
        le=8,
        description="How far a small subject may be enlarged to fill a canvas (1: never; "
        "at most 8). A subject that would need more stays smaller, placed by `align`.",
    )

    @property
    def background(self) -> str | None:
        """Which background replacement is requested: color, blur, gradient, image or
        None."""
        for name, value in (
            ("color", self.bg_color),
            ("blur", self.bg_blur),
            ("gradient", self.bg_gradient),
            ("image", self.bg_image),
        ):
            if value is not None:
                return name
        return None

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data: Any) -> Any:
        """A preset's options under the ones given (an unknown name is left to the
        field's own check, which names it)."""
        return with_preset(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _check_combinations(self) -> FileOptions:
        """Reject values that would be silently ignored. Only values that differ from
        their defaults count, so a serialised request (defaults included) round-trips."""
        backgrounds = [f for f in BACKGROUND_FIELDS if getattr(self, f)]
        if len(backgrounds) > 1:
            _reject(backgrounds[1], f"cannot be combined with {backgrounds[0]}", self)
        if self.channels is Channels.ALPHA:
            for name in (*backgrounds, *(["shadow"] if self.shadow else [])):
                _reject(name, "has no effect with channels=alpha (the mask only)", self)
        if not self.shadow:
            for name in self._changed(SHADOW_DETAILS):
                _reject(name, "requires shadow=true", self)
        if self.bg_image is None:
            for name in self._changed(BACKGROUND_DETAILS):
                _reject(name, "requires bg_image", self)
        if not self.crop and self.crop_margin.value:
            _reject("crop_margin", "requires crop=true", self)
        if self.canvas is None:
            for name in self._changed(CANVAS_DETAILS):
                _reject(name, "requires canvas", self)
        elif self.crop:
            _reject("crop", "cannot be combined with canvas (it frames the subject already)", self)
        elif self.bg_blur is not None:
            _reject(
                "bg_blur",
                "cannot be combined with canvas (past the photo's edge there is no "
                "background to blur)",
                self,
            )
        if self.output_quality is not None and self.format.resolved() is OutputFormat.PNG:
            _reject("output_quality", "has no effect with format=png (lossless)", self)
        return self

    def _changed(self, names: tuple[str, ...]) -> list[str]:
        """Those of ``names`` whose value is not their default."""
        return [n for n in names if getattr(self, n) != FileOptions.model_fields[n].default]

    @property
    def flattened(self) -> bool:
        """Whether the output is opaque RGB: channels=rgb, or jpg (which has no alpha
        channel) unless the mask itself is asked for."""
        return self.channels is Channels.RGB or (
            self.format.resolved() is OutputFormat.JPG and self.channels is not Channels.ALPHA
        )


class RemovalOptions(FileOptions, MaskOptions):  # both, so it is passed as either
    """A request's options as one flat set, the mask's and its output's — the shape of
    events' ``options``, form fields and command-line flags."""


def _reject(field: str, message: str, options: FileOptions) -> None:
    raise ValidationError.from_exception_data(
        "RemovalOptions",
        [
            InitErrorDetails(
                type=PydanticCustomError("invalid_combination", f"{field} {message}"),
                loc=(field,),
                input=getattr(options, field),
            )
        ],
    )
