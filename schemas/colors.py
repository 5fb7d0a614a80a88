"""Colours as users write them, parsed to RGBA.

Accepted: ``#rgb``, ``#rgba``, ``#rrggbb``, ``#rrggbbaa``; ``rgb(r, g, b)`` and
``rgba(r, g, b, a)`` where ``a`` is CSS-style 0–1 (or a percentage), or 0–255 when above 1;
CSS/HTML colour names (``white``, ``black``, ``red``…) and ``transparent``; the tuple form
``(255, 140, 0, 255)`` (the rembg shape), also as a JSON list. Serialised as ``#rrggbbaa``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, NamedTuple

from schemas.textual import Textual


class RGBA(NamedTuple):
    """A colour with 8-bit channels; ``a`` = 255 is opaque."""

    r: int
    g: int
    b: int
    a: int = 255

    def hex(self) -> str:
        return f"#{self.r:02x}{self.g:02x}{self.b:02x}{self.a:02x}"


_TUPLE = re.compile(r"^\(?\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*(\d{1,3})\s*)?\)?$")
_RGBA_FUNCTION = re.compile(
    r"^rgba\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d*\.?\d+)(%?)\s*\)$"
)


def _channel(value: int | str) -> int:
    number = int(value)
    if not 0 <= number <= 255:
        raise ValueError(f"colour channel {number} is outside 0-255")
    return number


def _css_alpha(number: str, percent: str) -> int:
    value = float(number)
    if percent:
        fraction = value / 100
    elif value <= 1:
        fraction = value
    else:
        return _channel(round(value))
    if not 0 <= fraction <= 1:
        raise ValueError(f"alpha {number}{percent} is outside 0-1")
    return round(fraction * 255)


def parse_color(value: Any) -> RGBA:
    """Parse any accepted colour form; ``ValueError`` says what was wrong."""
    if isinstance(value, RGBA):
        return value
    if isinstance(value, list | tuple):
        if len(value) not in (3, 4) or not all(isinstance(v, int) for v in value):
            raise ValueError("a colour list needs 3 or 4 integers (r, g, b[, a])")
        return RGBA(*(_channel(v) for v in value))
    if not isinstance(value, str):
        raise ValueError(f"expected a colour string, got {type(value).__name__}")
    text = value.strip().lower()
    if text == "transparent":
        return RGBA(0, 0, 0, 0)
    if match := _TUPLE.match(text):
        return RGBA(*(_channel(v) for v in match.groups() if v is not None))
    if match := _RGBA_FUNCTION.match(text):
        r, g, b, alpha, percent = match.groups()
        return RGBA(_channel(r), _channel(g), _channel(b), _css_alpha(alpha, percent))
    from PIL import ImageColor  # here, not at import: the schemas load without Pillow

    try:
        channels = ImageColor.getrgb(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a colour: use #rrggbb[aa], #rgb, rgb(r, g, b), "
            "rgba(r, g, b, a), (r, g, b, a) or a name such as white"
        ) from None
    return RGBA(*(_channel(v) for v in channels))


Color = Annotated[
    RGBA,
    Textual(
        parse_color,
        RGBA.hex,
        {
            "description": "#rrggbb[aa], #rgb[a], rgb(r,g,b), rgba(r,g,b,a), (r,g,b[,a]) or a "
            "CSS colour name",
            "examples": ["#ffffff", "rgba(0, 0, 0, 0.5)", "(255, 140, 0, 255)", "white"],
        },
    ),
]
"""A pydantic field type for colours: parses every accepted form, serialises to hex."""
