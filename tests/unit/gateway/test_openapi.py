"""The OpenAPI document: every reference in it resolves (ReDoc refuses one that does not)."""

from __future__ import annotations

from typing import Any

from streams.config.settings import Settings
from streams.gateway.app import create_app


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def test_every_reference_in_the_openapi_document_resolves() -> None:
    schema = create_app(Settings()).openapi()
    components = schema["components"]["schemas"]
    refs = _refs(schema)
    assert "#/components/schemas/JobCreate" in refs  # the bodies routes read themselves
    assert "#/components/schemas/BatchCreate" in refs
    missing = {ref for ref in refs if ref.removeprefix("#/components/schemas/") not in components}
    assert missing == set()
