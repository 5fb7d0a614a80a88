"""Renditions: several outputs from one segmentation.

A request's ``outputs`` lists up to :data:`MAX_RENDITIONS` renditions. Each is a set of
overrides over the request's file options (:class:`~schemas.options.FileOptions`; what
shapes the mask, :class:`~schemas.options.MaskOptions`, is the request's alone) and
optionally where to store it: a ``bucket`` and a ``key``, which may be a template
(:data:`KEY_FIELDS`). Resolved, each is an :class:`OutputSpec`: the file's whole options
and its place.

Overrides replace the request's values field by field, with these rules so that an
override never trips over a value it did not ask for: a ``preset`` counts as its options
named one by one; a rendition that names any background (``bg_color``, ``bg_blur``,
``bg_gradient``, ``bg_image``; ``null`` for none) replaces the request's background;
``shadow: false`` drops the request's shadow settings and ``crop: false`` its margin; a
rendition naming ``canvas`` (``null`` for none) drops the request's padding, alignment,
upscale limit and crop; a PNG rendition drops the request's ``output_quality``;
``channels: "alpha"`` drops background and shadow.
"""

from __future__ import annotations

import string
from typing import Annotated, Any, Optional

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    create_model,
    model_serializer,
)
from pydantic.fields import FieldInfo

from schemas.options import (
    BACKGROUND_DETAILS,
    BACKGROUND_FIELDS,
    CANVAS_DETAILS,
    SHADOW_DETAILS,
    FileOptions,
    OutputFormat,
    RemovalOptions,
)
from schemas.presets import with_preset
from schemas.refs import UPLOADS_CONTEXT, BucketName, FrozenModel, checked_key

MAX_RENDITIONS = 8

OVERRIDABLE = tuple(FileOptions.model_fields)
"""A rendition overrides what shapes its file; what shapes the mask is the request's."""
_NULLABLE = {name for name in OVERRIDABLE if FileOptions.model_fields[name].default is None}
"""Options where ``null`` means something (no background…); elsewhere it means unset."""

KEY_FIELDS = {
    "request_id": "the request's id",
    "account": "the account",
    "stem": "the input's file name without its extension",
    "ext": "this rendition's extension (png, webp, jpg)",
    "index": "this rendition's position in `outputs` (0-based)",
    "size": "this rendition's size preset",
    "batch_id": "the batch, for a batch item (else empty)",
    "item_id": "the batch item's id (else empty)",
    "item_index": "the batch item's position in its source (else empty)",
}
"""The fields a rendition's key template may name."""


def template_fields(template: str) -> list[str]:
    """The fields ``template`` names (``{name}``), checked: plain names only."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"not a key template: {exc} (write {{{{ and }}}} for braces)") from None
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"{{{name}}} is not a field name (letters, digits, _)")
        names.append(name)
    return names


def _key_template(template: str) -> str:
    unknown = sorted(set(template_fields(template)) - KEY_FIELDS.keys())
    if unknown:
        raise ValueError(
            f"unknown key field(s) {', '.join(unknown)}; a key may name "
            + ", ".join(f"{{{name}}}" for name in KEY_FIELDS)
        )
    return checked_key(template)


KeyTemplate = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1024),
    AfterValidator(_key_template),
    Field(
        description="Object key of this output, or a template naming "
        + ", ".join(f"`{{{name}}}` ({what})" for name, what in KEY_FIELDS.items())
        + ". Default: the first output's key, the others next to it as "
        "`<first key without extension>.<index>.<ext>`.",
        examples=["catalog/{request_id}/thumb.jpg", "{account}/{stem}-{size}.{ext}"],
    ),
]


def _optional(info: FieldInfo) -> tuple[Any, Any]:
    """The options field ``info`` as an override: the same type and checks, or unset."""
    annotation: Any = (
        Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    )
    return Optional[annotation], Field(default=None, description=info.description)  # noqa: UP045


_OVERRIDE_FIELDS: dict[str, Any] = {
    name: _optional(FileOptions.model_fields[name]) for name in OVERRIDABLE
}
_Overrides = create_model(  # the file options, each optional: a rendition's overrides
    "RenditionOverrides", __base__=FrozenModel, **_OVERRIDE_FIELDS
)


class Rendition(_Overrides):
    """One output of a request: option overrides and, optionally, where it goes."""

    model_config = ConfigDict(extra="forbid")

    bucket: BucketName | None = Field(
        default=None,
        description="Bucket of this output (default: the first output's; for the first, "
        "`s3.output_bucket`). Writes are checked like `output`: the account's own prefix, "
        "or one `access.write_grants` gives it.",
    )
    key: KeyTemplate | None = None

    @model_serializer(mode="wrap")
    def _only_what_was_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Only the fields given: an unset override and a ``null`` one differ (``null``
        clears the request's background), so the difference must survive a round trip."""
        data: dict[str, Any] = handler(self)
        return {name: value for name, value in data.items() if name in self.model_fields_set}

    def overrides(self) -> dict[str, Any]:
        """The options this rendition sets (``null`` included: it clears)."""
        return {
            name: getattr(self, name)
            for name in OVERRIDABLE
            if name in self.model_fields_set
            and (getattr(self, name) is not None or name in _NULLABLE)
        }


class OutputSpec(FrozenModel):
    """One output of a request, resolved: the options of its file and where it goes (a
    ``key`` is a template, :data:`KEY_FIELDS`; none: the default place). Every request
    has at least one (:meth:`~schemas.events.ImageRequest.specs`)."""

    options: FileOptions
    bucket: BucketName | None = None
    key: KeyTemplate | None = None


def literal_key(key: str) -> str:
    """``key`` as a template that names no field (its braces doubled)."""
    return key.replace("{", "{{").replace("}", "}}")


def rendition_options(base: RemovalOptions, rendition: Rendition) -> FileOptions:
    """``base``'s file options with ``rendition``'s overrides (see the module's rules); a
    :class:`~pydantic.ValidationError` when the result is not a valid set of options."""
    overrides = with_preset(rendition.overrides())
    values = {name: getattr(base, name) for name in FileOptions.model_fields}
    dropped = ["preset"]  # the request's preset is in its values already
    if overrides.keys() & set(BACKGROUND_FIELDS) or overrides.get("channels") == "alpha":
        dropped += [*BACKGROUND_FIELDS, *BACKGROUND_DETAILS]
    if overrides.get("shadow") is False or overrides.get("channels") == "alpha":
        dropped += ["shadow", *SHADOW_DETAILS]
    if overrides.get("crop") is False:
        dropped.append("crop_margin")
    if "canvas" in overrides:  # a new canvas (or none) starts from its own defaults
        dropped += [*CANVAS_DETAILS, "crop", "crop_margin"]
    if overrides.get("format") is OutputFormat.PNG:
        dropped.append("output_quality")
    for name in dropped:
        values.pop(name, None)
    # An upload the request names was allowed where the request was parsed; an override
    # naming one was refused when the rendition was.
    return FileOptions.model_validate(values | overrides, context={UPLOADS_CONTEXT: True})


def check_renditions(base: RemovalOptions, outputs: list[Rendition]) -> None:
    """:class:`ValueError` naming the first rendition whose options are not valid over
    ``base``, or two that name the same literal key."""
    for index, rendition in enumerate(outputs):
        try:
            rendition_options(base, rendition)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise ValueError(f"outputs[{index}].{where}: {error['msg']}") from None
    literal = [(r.bucket, r.key) for r in outputs if r.key and not template_fields(r.key)]
    if len(set(literal)) < len(literal):
        raise ValueError("two outputs name the same key")


def dumped(outputs: list[Rendition]) -> list[dict[str, Any]]:
    """Renditions as sent (``null`` and unset told apart), to compare two requests."""
    return [rendition.model_dump(mode="json") for rendition in outputs]
