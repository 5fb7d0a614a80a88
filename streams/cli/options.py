"""Command-line flags generated from :class:`RemovalOptions`: one flag per field, same name.

``bg_color`` becomes ``--bg-color``; booleans are switches; pairs take two values
(``--shadow-offset 8 12``); enums are choices. Only flags the user gave reach the model,
so its "X requires Y" checks see exactly what was asked for.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar, get_args, get_origin

import click
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from schemas.options import RemovalOptions
from schemas.renditions import MAX_RENDITIONS, Rendition, check_renditions

F = TypeVar("F", bound=Callable[..., Any])


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _click_option(name: str, field: FieldInfo) -> Callable[[F], F]:
    annotation = _unwrap_optional(field.annotation)
    help_text = field.description or ""
    if annotation is bool:
        return click.option(_flag(name), name, is_flag=True, default=None, help=help_text)
    kwargs: dict[str, Any] = {"default": None, "help": help_text}
    if get_origin(annotation) is tuple:
        member = get_args(annotation)[0]
        kwargs["nargs"] = len(get_args(annotation))
        kwargs["type"] = int if member is int else str
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        kwargs["type"] = click.Choice([member.value for member in annotation])
    elif annotation is int:
        kwargs["type"] = int
    else:
        kwargs["type"] = str
    return click.option(_flag(name), name, **kwargs)


def removal_option_flags(command: F) -> F:
    """Decorate a click command with a flag for every field of the options model."""
    for name, field in reversed(RemovalOptions.model_fields.items()):
        command = _click_option(name, field)(command)
    return command


def pop_removal_options(kwargs: dict[str, Any]) -> RemovalOptions:
    """Take the option flags out of a command's ``kwargs`` and validate them.

    A bad value or combination becomes a usage error naming the flag.
    """
    given = {}
    for name in RemovalOptions.model_fields:
        value = kwargs.pop(name, None)
        if value is not None:
            given[name] = value
    try:
        return RemovalOptions.model_validate(given)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        raise click.BadParameter(error["msg"], param_hint=_flag(field) if field else None) from exc


rendition_flag = click.option(
    "--rendition",
    "renditions",
    multiple=True,
    metavar="JSON",
    help="One more output from the same segmentation: a JSON object of option overrides, "
    'and optionally "bucket" and "key" (docs/api.md#renditions), e.g. '
    '\'{"format": "webp", "size": "small"}\'. Repeat it up to 7 times; the flags give '
    "the first output.",
)


def parse_renditions(options: RemovalOptions, given: tuple[str, ...]) -> list[Rendition]:
    """The outputs for ``--rendition`` values (JSON objects): the flags' own output
    first, then one per value, checked over ``options``; a bad one is a usage error
    naming the flag. No values: no renditions (one output)."""
    if not given:
        return []
    try:
        outputs = [Rendition(), *(Rendition.model_validate_json(text) for text in given)]
        check_renditions(options, outputs)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise click.BadParameter(f"{where}: {error['msg']}", param_hint="--rendition") from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rendition") from None
    if len(outputs) > MAX_RENDITIONS:
        raise click.BadParameter(f"at most {MAX_RENDITIONS - 1}", param_hint="--rendition")
    return outputs
