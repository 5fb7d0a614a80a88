"""Render every setting (environment variable, type, default, description) as Markdown.

``docs/configuration.md`` is this module's output; a test fails when it is stale, and
``make docs`` rewrites it.
"""

from __future__ import annotations

import json
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from streams.settings import ENV_NESTED_DELIMITER, ENV_PREFIX, Settings

HEADER = """# Configuration

Every setting is an environment variable (or a line in a `.env` file in the working
directory). Nested groups use a double underscore, e.g. `CUTSTREAM_KAFKA__BOOTSTRAP_SERVERS`.
List values are JSON, e.g. `CUTSTREAM_MODELS__PROVIDERS='["CPUExecutionProvider"]'`.

This page is generated from `streams/settings.py` by `make docs`; do not edit it by hand.
"""


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in get_args(annotation))
    if origin is tuple:
        return f"list of {_type_name(get_args(annotation)[0])}"
    if origin is dict:
        return "JSON object"
    if annotation is type(None):
        return "unset"
    if annotation is SecretStr:
        return "secret string"
    if annotation is Path:
        return "path"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f"`{member.value}`" for member in annotation)
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, tuple | dict):
        return f"`{json.dumps(list(value) if isinstance(value, tuple) else value)}`"
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
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    """Write the reference to ``docs/configuration.md`` (run from the repository root)."""
    Path("docs/configuration.md").write_text(render())


if __name__ == "__main__":
    main()
