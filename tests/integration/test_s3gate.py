"""The conditional-write gate enforces If-None-Match / If-Match in front of real rclone."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from streams.config.settings import Settings
from streams.stack.provision import tcp_probe, wait_until
from streams.stack.servers import free_port, s3_gate
from streams.storage.s3 import S3ObjectStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def gate(stack_settings: Settings) -> AsyncIterator[S3ObjectStore]:
    """A running gate in front of the session's S3 server, and a client that signs for it."""
    port = free_port()
    process = s3_gate(stack_settings, dict(os.environ), port)
    process.start()
    try:
        await wait_until(tcp_probe("127.0.0.1", port), what="gate", timeout=30, process=process)
        via_gate = stack_settings.model_copy(
            update={
                "s3": stack_settings.s3.model_copy(update={"endpoint": f"http://127.0.0.1:{port}"})
            }
        )
        yield S3ObjectStore(via_gate)
    finally:
        process.stop(5)


async def put(store: S3ObjectStore, key: str, body: bytes, **headers: str) -> httpx.Response:
    url = store.client.presigned_put_object("cutstream-inputs", key, expires=timedelta(minutes=5))
    async with httpx.AsyncClient() as client:
        return await client.put(url, content=body, headers=headers)


async def test_create_only_put(gate: S3ObjectStore) -> None:
    key = "gate/create-only.txt"
    assert (await put(gate, key, b"first", **{"If-None-Match": "*"})).status_code == 200
    refused = await put(gate, key, b"second", **{"If-None-Match": "*"})
    assert refused.status_code == 412
    assert b"PreconditionFailed" in refused.content
    assert gate.get("cutstream-inputs", key) == b"first"


async def test_compare_and_swap_put(gate: S3ObjectStore) -> None:
    key = "gate/cas.txt"
    created = await put(gate, key, b"v1")
    assert created.status_code == 200
    etag = created.headers["ETag"]
    assert gate.etag("cutstream-inputs", key) == etag.strip('"')
    assert (await put(gate, key, b"lost", **{"If-Match": '"0000"'})).status_code == 412
    swapped = await put(gate, key, b"v2", **{"If-Match": etag})
    assert swapped.status_code == 200
    assert (await put(gate, key, b"stale", **{"If-Match": etag})).status_code == 412
    assert gate.get("cutstream-inputs", key) == b"v2"


async def test_if_match_on_a_missing_object_is_404(gate: S3ObjectStore) -> None:
    assert (await put(gate, "gate/absent.txt", b"x", **{"If-Match": '"abc"'})).status_code == 404


async def test_everything_else_passes_through(gate: S3ObjectStore) -> None:
    gate.put("cutstream-inputs", "gate/plain.bin", b"\x00\x01payload", "application/octet-stream")
    assert gate.get("cutstream-inputs", "gate/plain.bin") == b"\x00\x01payload"
    assert "gate/plain.bin" in gate.list_keys("cutstream-inputs", "gate/")
    assert gate.etag("cutstream-inputs", "gate/nothing-here") is None
