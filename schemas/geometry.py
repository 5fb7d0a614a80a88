"""Sizes, lengths and places in an option's own words: an anchor (``bottom-left``), a
length in pixels or percent (``20``, ``10%``), a canvas (``2000x2000``) and a region of
interest (``x,y,w,h``, each in pixels or percent).

Each is a small value type with a parser that accepts what a person types in a form or on
a command line, and a serialiser that writes it back the same way, so an option
round-trips through JSON, a form field and a CLI flag unchanged.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

from schemas.textual import Textual


class Anchor(StrEnum):
    """Where a picture sits in a larger frame: the centre, an edge's middle or a corner."""

    CENTER = "center"
    TOP = "top"
    BOTTOM = "bottom"
    LEFT = "left"
    RIGHT = "right"
    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"

    @property
    def fractions(self) -> tuple[float, float]:
        """The (x, y) fraction of the spare room kept left of and above the picture."""
        x = 0.0 if "left" in self.value else 1.0 if "right" in self.value else 0.5
        y = 0.0 if "top" in self.value else 1.0 if "bottom" in self.value else 0.5
        return x, y


class Length(NamedTuple):
    """Pixels, or percent of a reference size (the subject for a crop margin, the canvas
    for its padding, the image for a region of interest)."""

    value: float
    unit: str  # "px" or "%"

    def of(self, reference: float) -> float:
        """This length in pixels, for a reference of ``reference`` pixels."""
        return reference * self.value / 100 if self.unit == "%" else self.value

    def pixels(self, width: int, height: int) -> tuple[int, int]:
        """The (horizontal, vertical) length in whole pixels against ``width`` and
        ``height``."""
        return round(self.of(width)), round(self.of(height))

    def text(self) -> str:
        number = int(self.value) if float(self.value).is_integer() else self.value
        return f"{number}{self.unit}"


_LENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(px|%)?\s*$")


def parse_length(value: Any, max_px: float, max_percent: float) -> Length:
    """``10``, ``"10"``, ``"10px"`` (pixels) or ``"5%"``, within the limits."""
    if isinstance(value, Length):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not (match := _LENGTH.match(value)):
        raise ValueError("a length is a number of pixels (e.g. 20 or '20px') or a percentage")
    number, unit = float(match.group(1)), match.group(2) or "px"
    limit = max_percent if unit == "%" else max_px
    if number > limit:
        raise ValueError(f"at most {limit:g}{unit}")
    return Length(number, unit)


def length_rules(max_px: int, max_percent: int, of: str) -> Textual:
    """``Annotated[Length, length_rules(…)]``: a length within those limits, a percentage
    being of ``of`` (for the schema's description)."""
    return Textual(
        lambda value: parse_length(value, max_px, max_percent),
        Length.text,
        {
            "pattern": r"^\d+(\.\d+)?(px|%)?$",
            "description": f"pixels (max {max_px}) or percent of {of} (max {max_percent})",
            "examples": ["0", "20px", "10%"],
        },
    )


MAX_CANVAS_SIDE = 10_000
"""The largest canvas side, in pixels (the largest side any channel we cite accepts)."""
MAX_CANVAS_PIXELS = 50_000_000
"""The largest canvas, in pixels: the largest input the decoder accepts by default."""


class CanvasSize(NamedTuple):
    """An exact output size, ``WxH`` in pixels."""

    width: int
    height: int

    def text(self) -> str:
        return f"{self.width}x{self.height}"


_CANVAS = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


def parse_canvas(value: Any) -> CanvasSize:
    """``"2000x2000"`` (or a pair); each side 1 to :data:`MAX_CANVAS_SIDE` pixels."""
    if isinstance(value, CanvasSize):
        return value
    if isinstance(value, list | tuple) and len(value) == 2:
        value = f"{value[0]}x{value[1]}"
    if not isinstance(value, str) or not (match := _CANVAS.match(value)):
        raise ValueError("a canvas is WIDTHxHEIGHT in pixels, e.g. 2000x2000")
    width, height = int(match.group(1)), int(match.group(2))
    if not (1 <= width <= MAX_CANVAS_SIDE and 1 <= height <= MAX_CANVAS_SIDE):
        raise ValueError(f"each side of a canvas is 1 to {MAX_CANVAS_SIDE} pixels")
    if width * height > MAX_CANVAS_PIXELS:
        raise ValueError(f"a canvas has at most {MAX_CANVAS_PIXELS:,} pixels")
    return CanvasSize(width, height)


CanvasField = Annotated[
    CanvasSize,
    Textual(
        parse_canvas,
        CanvasSize.text,
        {
            "pattern": r"^\d{1,5}[xX×]\d{1,5}$",
            "description": f"WIDTHxHEIGHT in pixels, each side 1 to {MAX_CANVAS_SIDE}",
            "examples": ["2000x2000", "1600x1200"],
        },
    ),
]

MAX_ROI_PX = 100_000


class Roi(NamedTuple):
    """A region of interest of the input: left, top, width, height, each in pixels or
    percent of the image's width (left, width) or height (top, height)."""

    left: Length
    top: Length
    width: Length
    height: Length

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in the pixels of a ``width`` x ``height`` image,
        clipped to it."""
        left, top = round(self.left.of(width)), round(self.top.of(height))
        right, bottom = left + round(self.width.of(width)), top + round(self.height.of(height))
        return min(left, width), min(top, height), min(right, width), min(bottom, height)

    def text(self) -> str:
        return ",".join(length.text() for length in self)


def parse_roi(value: Any) -> Roi:
    """``"x,y,w,h"`` (or a list of four), each in pixels or percent; the region must have
    a size."""
    if isinstance(value, Roi):
        return value
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple) or len(parts) != 4:
        raise ValueError(
            "a region of interest is x,y,w,h in pixels or percent, e.g. 10%,0,80%,100%"
        )
    roi = Roi(*(parse_length(part, MAX_ROI_PX, 100) for part in parts))
    if roi.width.value == 0 or roi.height.value == 0:
        raise ValueError("a region of interest needs a width and a height")
    return roi


RoiField = Annotated[
    Roi,
    Textual(
        parse_roi,
        Roi.text,
        {
            "pattern": r"^\s*\d+(\.\d+)?(px|%)?\s*(,\s*\d+(\.\d+)?(px|%)?\s*){3}$",
            "description": "x,y,w,h of the region: each in pixels or percent of the image's "
            "width (x, w) or height (y, h)",
            "examples": ["0,0,100%,100%", "120,40,800,600"],
        },
    ),
]
