"""Options a person types: a value type parsed from text (or a number, a list) and
written back as the same text, so it round-trips through JSON, a form field and a
command-line flag unchanged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema


@dataclass(frozen=True, eq=False)  # hashed by identity: typing hashes Annotated metadata
class Textual:
    """The metadata that makes ``Annotated[T, Textual(parse, text, schema)]`` such an
    option: ``parse`` turns what was given into a ``T`` (a :class:`ValueError` names what
    is wrong), ``text`` writes a ``T`` back, ``schema`` is its JSON Schema (a string)."""

    parse: Callable[[Any], Any]
    text: Callable[[Any], str]
    schema: dict[str, Any] = field(default_factory=dict)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(
                self.text, return_schema=core_schema.str_schema()
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", **self.schema}
