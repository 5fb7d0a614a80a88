"""The ``cutstream`` package: what pipelines import."""

from __future__ import annotations

import json

import pytest

import cutstream
from streams.notifier.signing import signed_headers
from tests.imports import heavy_modules_loaded_by


def test_every_exported_name_exists() -> None:
    missing = [name for name in cutstream.__all__ if not hasattr(cutstream, name)]
    assert not missing
    assert len(set(cutstream.__all__)) == len(cutstream.__all__)


def test_importing_the_sdk_loads_no_image_libraries() -> None:
    assert heavy_modules_loaded_by("cutstream") == []


def test_a_request_built_with_the_sdk_is_what_workers_parse() -> None:
    request = cutstream.ImageRequested(
        request_id=cutstream.new_request_id(),
        account="acme",
        payload=cutstream.ImageRequest(
            input=cutstream.UrlInput.model_validate({"url": "https://images.example/a.jpg"}),
            options=cutstream.RemovalOptions(format=cutstream.OutputFormat.WEBP),
        ),
    )
    parsed = cutstream.ImageRequested.model_validate_json(request.model_dump_json())
    assert parsed == request


def test_verify_accepts_our_signature_and_refuses_a_changed_body() -> None:
    secret = cutstream.generate_secret()
    body = json.dumps({"type": "image.completed", "data": {"request_id": "r-1"}}).encode()
    headers = signed_headers([secret], "msg_1", body)
    cutstream.verify(body, headers, [secret])
    with pytest.raises(cutstream.WebhookVerificationError):
        cutstream.verify(body + b" ", headers, [secret])
