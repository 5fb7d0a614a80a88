"""The embedded S3 server, spoken to by the clients that use it: minio-py (cutstream's own
store), presigned URLs (httpx) and hand-made requests for what SDKs hide (pages, chunks)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiohttp.test_utils import TestServer
from minio.deleteobjects import DeleteObject

from streams.config.settings import Settings
from streams.exceptions import ObjectNotFoundError, StorageUnavailableError
from streams.stack.logstore import log_store
from streams.stack.objects import Objects
from streams.stack.s3server import server
from streams.stack.s3writes import AwsChunked
from streams.stack.sigv4 import Request, SignatureError, Verifier
from streams.storage.s3 import S3ObjectStore

BUCKET = "cutstream-inputs"
KEYS = {"access_key": "cutstream", "secret_key": "cutstream-secret"}


def settings_for(url: str, **s3: str) -> Settings:
    return Settings(s3={"endpoint": url, **KEYS, **s3})


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Objects]]:
    objects = Objects(tmp_path)
    objects.load()
    test_server = TestServer(server(objects, settings_for("http://127.0.0.1:1")))
    await test_server.start_server()
    yield str(test_server.make_url("")).rstrip("/"), objects
    await test_server.close()


@pytest.fixture
async def store(served: tuple[str, Objects]) -> S3ObjectStore:
    store = S3ObjectStore(settings_for(served[0]), retries=0)
    await asyncio.to_thread(store.ensure_bucket, BUCKET)
    return store


async def test_signed_requests_pass_and_others_are_refused(
    served: tuple[str, Objects], store: S3ObjectStore
) -> None:
    url, _ = served
    await asyncio.to_thread(store.put, BUCKET, "a/b.txt", b"hello", "text/plain")
    assert await asyncio.to_thread(store.get, BUCKET, "a/b.txt") == b"hello"
    for wrong, code in (
        ({"secret_key": "not-the-secret"}, "SignatureDoesNotMatch"),
        ({"access_key": "someone"}, "InvalidAccessKeyId"),
    ):
        intruder = S3ObjectStore(settings_for(url, **wrong), retries=0)
        with pytest.raises(StorageUnavailableError, match=code):
            await asyncio.to_thread(intruder.get, BUCKET, "a/b.txt")
    async with httpx.AsyncClient() as client:
        anonymous = await client.get(f"{url}/{BUCKET}/a/b.txt")
    assert anonymous.status_code == 403
    assert b"<Code>AccessDenied</Code>" in anonymous.content


async def test_presigned_urls_serve_type_and_metadata_and_refuse_tampering(
    store: S3ObjectStore,
) -> None:
    await asyncio.to_thread(
        store.client.put_object,
        BUCKET,
        "out/pic 1+.png",
        io.BytesIO(b"\x89PNG..."),
        7,
        content_type="image/png",
        metadata={"request-id": "r-1"},
    )
    url = store.presigned_get_url(BUCKET, "out/pic 1+.png", timedelta(minutes=5))
    async with httpx.AsyncClient() as client:
        answer = await client.get(url)
        beside_a_key = await client.get(url, headers={"Authorization": "Bearer api-key"})
        tampered = await client.get(url.replace("out/pic", "out/pid"))
        upload = store.client.presigned_put_object(BUCKET, "in/up.jpg", timedelta(minutes=5))
        uploaded = await client.put(upload, content=b"jpeg bytes")
    assert (answer.status_code, answer.content) == (200, b"\x89PNG...")
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["x-amz-meta-request-id"] == "r-1"
    assert beside_a_key.status_code == 200  # a client's own Authorization (as MinIO)
    assert tampered.status_code == 403
    assert uploaded.status_code == 200
    assert await asyncio.to_thread(store.get, BUCKET, "in/up.jpg") == b"jpeg bytes"


def test_presigned_urls_expire() -> None:
    verifier = Verifier("cutstream", "cutstream-secret")
    signed = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=cutstream%2F20261204%2Fus-east-1"
        "%2Fs3%2Faws4_request&X-Amz-Date=20261204T050000Z&X-Amz-Expires=60"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "0" * 64
    )
    request = Request("GET", "/b/k", query, {"host": ["127.0.0.1:9000"]})
    with pytest.raises(SignatureError) as wrong:
        verifier.verify(request, now=signed + timedelta(seconds=30))
    assert wrong.value.code == "SignatureDoesNotMatch"
    with pytest.raises(SignatureError) as late:
        verifier.verify(request, now=signed + timedelta(seconds=61))
    assert late.value.code == "AccessDenied"
    assert "expired" in str(late.value)


async def test_large_objects_go_up_in_parts_and_come_back_whole(
    store: S3ObjectStore, tmp_path: Path
) -> None:
    body = bytes(range(256)) * 45_000  # 11.5 MB: three 5 MiB parts for minio-py
    source = tmp_path / "big.bin"
    source.write_bytes(body)
    await asyncio.to_thread(store.put_file, BUCKET, "big/one.bin", source, "image/png")
    assert await asyncio.to_thread(store.get, BUCKET, "big/one.bin") == body
    assert (await asyncio.to_thread(store.etag, BUCKET, "big/one.bin") or "").endswith("-3")
    assert list((tmp_path / ".staging").iterdir()) == []  # parts are gone once joined


async def test_pages_and_bulk_deletes(store: S3ObjectStore) -> None:
    keys = [f"many/{i:04d}" for i in range(2_345)]
    await asyncio.gather(
        *(asyncio.to_thread(store.put, BUCKET, key, b"x", "text/plain") for key in keys)
    )
    assert await asyncio.to_thread(store.list_keys, BUCKET, "many/") == keys  # 3 pages
    errors = await asyncio.to_thread(
        lambda: list(store.client.remove_objects(BUCKET, [DeleteObject(k) for k in keys[:999]]))
    )
    assert errors == []
    assert await asyncio.to_thread(store.list_keys, BUCKET, "many/") == keys[999:]
    with pytest.raises(ObjectNotFoundError):
        await asyncio.to_thread(store.get, BUCKET, keys[0])


async def test_a_delimited_listing_never_repeats_a_folder_across_pages(tmp_path: Path) -> None:
    objects = Objects(tmp_path)
    objects.load()
    objects.ensure_bucket(BUCKET)
    for folder in ("a", "b", "c"):
        for index in range(3):
            objects.put(BUCKET, f"{folder}/{index}", b"x")
    objects.put(BUCKET, "top", b"x")
    test_server = TestServer(log_store(objects))
    await test_server.start_server()
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=str(test_server.make_url(""))) as client:
        # V2 with continuation tokens, V1 with markers
        for params, token, parameter in (
            ({"list-type": "2"}, "NextContinuationToken", "continuation-token"),
            ({}, "NextMarker", "marker"),
        ):
            page: dict[str, str] = {"delimiter": "/", "max-keys": "1", **params}
            found = []
            while True:
                text = (await client.get(f"/{BUCKET}", params=page)).text
                found += [part.split("</Prefix>")[0] for part in text.split("<Prefix>")[2:]]
                found += [part.split("</Key>")[0] for part in text.split("<Key>")[1:]]
                if "<IsTruncated>true" not in text:
                    break
                page[parameter] = text.split(f"<{token}>")[1].split("<")[0]
            seen.append(",".join(found))
    await test_server.close()
    assert seen == ["a/,b/,c/,top"] * 2


def test_aws_chunked_bodies_are_decoded_however_they_arrive() -> None:
    body = (
        b"5;chunk-signature=ab\r\nhello\r\n6;chunk-signature=cd\r\n world\r\n"
        b"0;x\r\nx-amz-checksum-crc32:AAAA\r\n\r\n"
    )
    for size in (1, 3, 7, len(body)):
        decoder = AwsChunked()
        out = b"".join(decoder.feed(body[i : i + size]) for i in range(0, len(body), size))
        assert out == b"hello world"


async def test_type_metadata_and_etags_survive_a_restart(
    served: tuple[str, Objects], store: S3ObjectStore, tmp_path: Path
) -> None:
    await asyncio.to_thread(store.put, BUCKET, "kept.webp", b"RIFF....WEBP", "image/webp")
    _, objects = served
    before = objects.get(BUCKET, "kept.webp")
    again = Objects(tmp_path)
    again.load()
    assert again.get(BUCKET, "kept.webp") == before
    assert before is not None
    assert before.content_type == "image/webp"


async def test_an_upload_cut_short_writes_nothing_and_logs_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    objects = Objects(tmp_path)
    objects.load()
    objects.ensure_bucket(BUCKET)
    test_server = TestServer(log_store(objects))
    await test_server.start_server()
    _, writer = await asyncio.open_connection(test_server.host, test_server.port)
    writer.write(
        f"PUT /{BUCKET}/cut.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".encode()
        + b"x" * 30_000
    )
    await writer.drain()
    writer.close()
    await asyncio.sleep(0.3)
    await test_server.close()
    assert objects.get(BUCKET, "cut.bin") is None
    assert not (tmp_path / BUCKET / "cut.bin").exists()
    assert list((tmp_path / ".staging").iterdir()) == []
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []
