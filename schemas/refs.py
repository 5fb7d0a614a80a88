"""Where things are: object references (bucket + key) and URLs, shared by events,
options (a background image) and batches."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyUrl,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    UrlConstraints,
    ValidationInfo,
)
from pydantic.json_schema import SkipJsonSchema

WebUrl = Annotated[AnyUrl, UrlConstraints(allowed_schemes=["http", "https"], max_length=2048)]


class FrozenModel(BaseModel):
    """Base of what cutstream emits: immutable, unknown fields ignored, and every field
    carried, defaults included (the schemas of emitted events, in serialisation mode,
    list them all as required)."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", json_schema_serialization_defaults_required=True
    )


KEY_PATTERN = r"^(?!.*(^|/)\.{0,2}(/|$))[^\x00-\x1f\x7f\\]+$"
""":func:`checked_key` as a regular expression, for the JSON Schemas."""


def checked_key(key: str) -> str:
    """``key`` if it is a plain object path: no leading ``/``, no empty, ``.`` or ``..``
    segment, no control characters or backslashes (so no prefix rule can be climbed out
    of, and every store reads it the same way)."""
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError("an object key has no leading '/', no '//' and no '.' or '..' segments")
    if any(ord(char) < 32 or char in "\\\x7f" for char in key):
        raise ValueError("an object key has no control characters or backslashes")
    return key


BucketName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
    Field(description="An S3 bucket name: 3-63 of [a-z0-9.-], starting and ending alphanumeric."),
]
ObjectKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1024),
    AfterValidator(checked_key),
    Field(
        description="An object key: a path of non-empty segments, none of them '.' or '..'.",
        json_schema_extra={"pattern": KEY_PATTERN},
    ),
]


class S3Object(FrozenModel):
    """An object in the S3-compatible store."""

    # The properties named in `not` are declared in it, so strict validators (ajv's
    # strictRequired) accept the schema.
    model_config = ConfigDict(
        json_schema_extra={"not": {"properties": {"url": True}, "required": ["url"]}}
    )

    kind: Literal["s3"] = "s3"
    bucket: BucketName
    key: ObjectKey


class UrlInput(FrozenModel):
    """An image to fetch over HTTPS (public hosts only; see the URL guard)."""

    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "properties": {"bucket": True, "key": True},
                "anyOf": [{"required": ["bucket"]}, {"required": ["key"]}],
            }
        }
    )

    kind: Literal["url"] = "url"
    url: WebUrl


def _input_kind(value: Any) -> str | None:
    """``kind`` when given, else inferred: an object with ``url`` is a URL input. An input
    names one location: with both a ``url`` and a ``bucket`` or ``key`` it is neither (the
    JSON Schema says the same)."""
    if isinstance(value, dict):
        if "url" in value and ("bucket" in value or "key" in value):
            return None
        return str(value.get("kind") or ("url" if "url" in value else "s3"))
    return str(getattr(value, "kind", "s3"))


InputRef = Annotated[
    Annotated[S3Object, Tag("s3")] | Annotated[UrlInput, Tag("url")],
    Discriminator(_input_kind),
]


UPLOADS_CONTEXT = "uploads"
"""The validation context key under which the gateway allows :class:`UploadRef`."""


class UploadRef(FrozenModel):
    """A file sent with an HTTP request in a multipart ``part`` (an uploaded background
    image). The gateway stores it beside the input and puts that object's reference in its
    place before the request is queued, so it never travels in an event: anywhere but the
    gateway's own parsing it is refused."""

    kind: Literal["upload"] = "upload"
    part: str = Field(max_length=64, description="The multipart part that carries the file.")


def _only_at_the_gateway(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, UploadRef) and not (info.context or {}).get(UPLOADS_CONTEXT):
        raise ValueError("an uploaded file exists only in an HTTP request; name an object or a URL")
    return value


ImageRefValue = S3Object | UrlInput | UploadRef
"""What an :data:`ImageRef` field holds once validated."""

ImageRef = Annotated[
    Annotated[S3Object, Tag("s3")]
    | Annotated[UrlInput, Tag("url")]
    | Annotated[SkipJsonSchema[UploadRef], Tag("upload")],
    Discriminator(_input_kind),
    AfterValidator(_only_at_the_gateway),
]
"""An image an option names (a background image): an input reference, or — while the
gateway parses a multipart request — the file uploaded with it (not in the schemas)."""
