"""Render the settings and the removal options as Markdown reference pages.

``docs/configuration.md`` and ``docs/options.md`` are this module's output; a test fails
when either is stale, and ``make docs`` rewrites them.
"""

from __future__ import annotations

import json
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from schemas.colors import RGBA
from schemas.geometry import CanvasSize, Length, Roi
from schemas.options import RemovalOptions
from schemas.presets import RULES
from schemas.refs import S3Object, UrlInput
from schemas.renditions import KEY_FIELDS
from streams.config.settings import ALIASES, ENV_NESTED_DELIMITER, ENV_PREFIX, Settings, env_name

HEADER = """# Configuration

Every setting is an environment variable (or a line in a `.env` file in the working
directory). Nested groups use a double underscore, e.g. `CUTSTREAM_KAFKA__BOOTSTRAP_SERVERS`.
List values are JSON, e.g. `CUTSTREAM_MODELS__PROVIDERS='["CPUExecutionProvider"]'`.

This page is generated from `streams/config/settings.py` by `make docs`; do not edit it by hand.
"""


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _type_name(get_args(annotation)[0])
    if annotation is S3Object:
        return "object reference"
    if annotation is UrlInput:
        return "URL"
    if origin is Literal:
        return " \\| ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in get_args(annotation))
    if origin is tuple:
        members = get_args(annotation)
        return f"[{', '.join(_type_name(m) for m in members)}]"
    if origin is dict:
        return "JSON object"
    if annotation is type(None):
        return "unset"
    if annotation is SecretStr:
        return "secret string"
    if annotation is Path:
        return "path"
    if annotation is RGBA:
        return "colour"
    if annotation is Length:
        return "length"
    if annotation is CanvasSize:
        return "`WxH`"
    if annotation is Roi:
        return "`x,y,w,h`"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f"`{member.value}`" for member in annotation)
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, RGBA):
        return f"`{value.hex()}`"
    if isinstance(value, Length):
        return f"`{value.text()}`"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, tuple | dict):
        plain = to_jsonable_python(value, exclude_none=True)
        return f"`{json.dumps(plain)}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        variable = f"{prefix}{name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            continue
        description = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| `{variable}` | {_type_name(annotation)} | {_default(field)} | {description} |"
        )
    return rows


def _table(rows: list[str]) -> list[str]:
    return ["| variable | type | default | description |", "|---|---|---|---|", *rows, ""]


def render() -> str:
    """The whole configuration reference as Markdown."""
    lines = [HEADER, "## General", "", *_table(_rows(Settings, ENV_PREFIX))]
    for name, field in Settings.model_fields.items():
        group = field.annotation
        if isinstance(group, type) and issubclass(group, BaseModel):
            prefix = f"{ENV_PREFIX}{name.upper()}{ENV_NESTED_DELIMITER}"
            lines += [f"## `{name}` — {(group.__doc__ or '').strip()}", ""]
            lines += _table(_rows(group, prefix))
    lines += [
        "## Former names",
        "",
        "These names still work (with a warning); a value under the new name wins.",
        "",
        "| former variable | now |",
        "|---|---|",
        *(f"| `{env_name(*old)}` | `{env_name(*new)}` |" for old, new in ALIASES.items()),
    ]
    return "\n".join(lines).rstrip() + "\n"


OPTIONS_HEADER = """# Removal options

One options model (`schemas/options.py`) serves every entry point: the `options` object of
a request event, the HTTP APIs, and the flags of `cutstream remove` / `cutstream submit`
(field `bg_color` is the flag `--bg-color`; pairs take two values, e.g.
`--shadow-offset 8 12`; booleans are switches).

A value that cannot be honoured is an error located at its field — e.g. `bg_blur` together
with `bg_color`, `shadow_offset` without `shadow`, `crop_margin` without `crop`, a
background with `channels=alpha` — never silently ignored.

Colours: `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, `rgb(r, g, b)`, `rgba(r, g, b, a)` (a: 0–1,
a percentage, or 0–255), CSS names (`white`, `black`, `red`…), `transparent`, and
`(255, 140, 0, 255)`. Margins: pixels (`20`, `20px`, at most 500) or percent of the
subject's size (`10%`, at most 50); a margin past the image's edge is transparent (or
`bg_color`) padding. Canvases, padding, alignment, regions of interest and marketplace
presets: [below](#canvases).

This page is generated by `make docs`; do not edit it by hand.
"""


OPTIONS_FOOTER = """
## Canvases

`canvas` makes the output exactly `WIDTHxHEIGHT` pixels and frames it on the subject:

1. the subject's bounds are found in the mask (alpha ≥ 32, as `crop` finds them; the whole
   picture if there is no subject), and widened by the drop shadow where one is drawn
   (its offset plus twice its blur radius);
2. they are scaled to fit inside the canvas less `padding` on each side — pixels, or
   percent of the canvas side: `10%` on 1000x1000 leaves 800 px for the subject's longer
   side — but enlarged at most `max_upscale` times (2 by default; 1 never enlarges);
3. the subject is placed by `align` in the room left over (`center`, an edge, a corner);
4. everything around it is the background: `bg_color`, `bg_gradient` or `bg_image` across
   the whole canvas, transparent if none (white once flattened, as for `format=jpg`).

`size` shrinks the whole canvas, padding included (`canvas=2000x2000, size=small`: a
512 px square laid out exactly like the 2000 px one). A canvas cannot be combined with
`crop` (it frames the subject already) or `bg_blur` (past the photo's edge there is no
background to blur); `padding`, `align` and `max_upscale` need a `canvas`.

`roi` (`x,y,w,h`, each in pixels or percent of the input) keeps only the subject inside
that region: everything outside it is background, in the mask and so in every output. It
shapes the mask, so it belongs to the request, not to a rendition.

## Presets

`preset` names a marketplace's image rules; it expands into plain options under the ones
given with it, so any field can be overridden (`preset=amazon, format=png, bg_color=null`:
a transparent 2000 px PNG laid out for Amazon). `GET /v1/presets` returns the same table.

{presets}

![Three subjects on the amazon, ebay and google presets](img/presets.jpg)

*The cup, the cat and the astronaut (scikit-image's sample photographs, enlarged to
1600 px) on three presets, by the default model: `make canvas-pictures`.*

## Renditions: several outputs, one segmentation

A request may list up to 8 `outputs`. Each is a set of overrides over the request's
options — any field above but `model`, `quality` and `roi`, which shape the mask: the
model runs once per request — and optionally a destination (`bucket`, `key`). With no
`outputs`, a request has one output, exactly as before.

```json
"options": {"format": "png"},
"outputs": [
  {},
  {"format": "webp", "size": "medium"},
  {"format": "webp", "size": "small"},
  {"format": "jpg", "bg_color": "#ffffff", "size": "small",
   "key": "{account}/catalog/{stem}/thumb.jpg"}
]
```

How overrides combine with the request's options:

- a field a rendition sets replaces the request's; the others are inherited;
- a `preset` counts as its options named one by one;
- a rendition naming `canvas` (`null` for none) drops the request's `padding`, `align`,
  `max_upscale` and crop;
- a rendition that names any background (`bg_color`, `bg_blur`, `bg_gradient`,
  `bg_image`; `null` for none) replaces the request's background, with its `bg_fit` and
  `bg_position`;
- `"shadow": false` drops the request's shadow settings, `"crop": false` its margin;
- a PNG rendition drops the request's `output_quality`; `"channels": "alpha"` drops its
  background and shadow;
- the result must be a valid set of options, checked like a request's (the error names
  `outputs[i]` and the field).

## Destinations

Where each output is stored:

- the first: the request's `output`, or its own `bucket`/`key`, else
  `<s3.output_bucket>/<account>/<request_id>.<ext>` (as without renditions);
- one with a `key`: there, in its `bucket` (default: the first output's bucket);
- any other: beside the first, as `<first key without its extension>.<n>.<ext>`.

A `key` may be a template of these fields (write `{{` and `}}` for braces):

{key_fields}

Every place is checked by the account's write rule: its own prefix of the outputs bucket,
and the prefixes `access.write_grants` gives it; anything else fails the request with
`output_not_allowed` (nothing written). Two outputs in one place fail with
`invalid_request`. Keys are deterministic, so a redelivered request overwrites the same
objects and never leaves extras.

## Background images

`bg_image` puts an image under the subject (and under the shadow, if any):

- an https URL, fetched through the same URL guard and limits as inputs;
- an object reference, `{"bucket": "…", "key": "…"}` or `s3://bucket/key`, readable by the
  account as an input reference is (else `input_not_found`);
- over HTTP, an uploaded file: a multipart field `bg_image` (stored beside the input);
- in `cutstream remove` (no service), a local file: `--bg-image studio.jpg`.

`bg_fit`: `cover` (scaled to cover the picture, cropped at `bg_position`), `contain`
(scaled to fit inside, placed at `bg_position`, the rest transparent — white once
flattened) or `stretch`. The image is decoded with the same limits as inputs; errors say
`bg_image: …`. Each worker keeps decoded backdrops by the SHA-256 of their bytes
(`worker.backdrop_cache_bytes`), so a batch with one backdrop decodes it once.
"""


def render_options() -> str:
    """The removal options reference as Markdown."""
    rows = ["| field | flag | type | default | description |", "|---|---|---|---|---|"]
    for name, field in RemovalOptions.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        flag = "--" + name.replace("_", "-")
        rows.append(
            f"| `{name}` | `{flag}` | {_type_name(field.annotation)} | {_default(field)} "
            f"| {description} |"
        )
    keys = ["| field | value |", "|---|---|"]
    keys += [f"| `{{{name}}}` | {what} |" for name, what in KEY_FIELDS.items()]
    presets = ["| preset | options | the channel's rules | source |", "|---|---|---|---|"]
    for preset, rules in RULES.items():
        options = ", ".join(f"`{name}={value}`" for name, value in rules.options.items())
        presets.append(f"| `{preset.value}` | {options} | {rules.why} | {rules.source} |")
    footer = OPTIONS_FOOTER.replace("{key_fields}", "\n".join(keys))
    return (
        OPTIONS_HEADER
        + "\n"
        + "\n".join(rows)
        + "\n"
        + footer.replace("{presets}", "\n".join(presets))
    )


def main() -> None:
    """Write both reference pages (run from the repository root)."""
    Path("docs/configuration.md").write_text(render())
    Path("docs/options.md").write_text(render_options())


if __name__ == "__main__":
    main()
