"""The broker's log store, spoken to over HTTP as the broker does: conditional writes,
conditional reads, listings that see every write at once and are never cut short, files
that survive a restart, and the janitor's retention and compaction."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp.test_utils import TestServer
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from streams.stack.janitor import Janitor, Retention
from streams.stack.logstore import log_store
from streams.stack.objects import Objects

BUCKET = "tansu"
RECORDS = "clusters/c/topics/{topic}/partitions/0000000000/records/{offset:020d}.batch"
COMMITTED = "clusters/c/groups/consumers/{group}/offsets/{topic}/partitions/0000000000.json"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Objects]]:
    objects = Objects(tmp_path)
    objects.load()
    objects.ensure_bucket(BUCKET)
    server = TestServer(log_store(objects))
    await server.start_server()
    async with httpx.AsyncClient(base_url=str(server.make_url(""))) as client:
        yield client, objects
    await server.close()


async def test_conditional_writes_create_once_and_swap_only_the_version_named(
    store: tuple[httpx.AsyncClient, Objects],
) -> None:
    client, _ = store
    url = f"/{BUCKET}/p/watermark.json"
    created = await client.put(url, content=b'{"high":1}', headers={"If-None-Match": "*"})
    assert created.status_code == 200
    first = created.headers["ETag"]
    again = await client.put(url, content=b'{"high":9}', headers={"If-None-Match": "*"})
    assert again.status_code == 412
    swapped = await client.put(url, content=b'{"high":2}', headers={"If-Match": first})
    assert swapped.status_code == 200
    stale = await client.put(url, content=b'{"high":3}', headers={"If-Match": first})
    assert stale.status_code == 412
    missing = await client.put(f"/{BUCKET}/p/none.json", content=b"x", headers={"If-Match": first})
    assert missing.status_code == 404
    current = await client.get(url)
    assert (current.content, current.headers["ETag"]) == (b'{"high":2}', swapped.headers["ETag"])
    assert "Last-Modified" in current.headers
    unchanged = await client.get(url, headers={"If-None-Match": swapped.headers["ETag"]})
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    changed = await client.get(url, headers={"If-None-Match": first})
    assert changed.status_code == 200
    part = await client.get(url, headers={"Range": "bytes=1-5"})
    assert (part.status_code, part.content) == (206, b'"high')
    head = await client.head(url)
    assert head.headers["Content-Length"] == "10"
    assert (await client.delete(url)).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_a_listing_sees_every_write_at_once_and_is_whole(
    store: tuple[httpx.AsyncClient, Objects],
) -> None:
    client, _ = store
    for offset in range(1500):  # past S3's 1,000-key page, which the broker never turns
        key = RECORDS.format(topic="t", offset=offset)
        assert (await client.put(f"/{BUCKET}/{key}", content=b"b")).status_code == 200
        if offset in (0, 999, 1499):
            listing = await client.get(
                f"/{BUCKET}", params={"list-type": "2", "prefix": "clusters/c/topics/t/"}
            )
            assert listing.text.count("<Key>") == offset + 1
            assert "<IsTruncated>false</IsTruncated>" in listing.text
    paged = await client.get(
        f"/{BUCKET}", params={"list-type": "2", "prefix": "clusters/", "max-keys": "2"}
    )
    assert paged.text.count("<Key>") == 2
    token = paged.text.split("<NextContinuationToken>")[1].split("<")[0]
    following = await client.get(
        f"/{BUCKET}",
        params={
            "list-type": "2",
            "prefix": "clusters/",
            "max-keys": "2",
            "continuation-token": token,
        },
    )
    assert RECORDS.format(topic="t", offset=2) in following.text
    grouped = await client.get(
        f"/{BUCKET}",
        params={"list-type": "2", "prefix": "clusters/c/topics/", "delimiter": "/"},
    )
    assert "<Prefix>clusters/c/topics/t/</Prefix>" in grouped.text
    assert "<Key>" not in grouped.text


async def test_what_is_written_survives_a_restart_and_half_writes_do_not(tmp_path: Path) -> None:
    objects = Objects(tmp_path)
    objects.load()
    objects.ensure_bucket(BUCKET)
    entry = objects.put(BUCKET, "a/b.json", b'{"x":1}')
    (tmp_path / ".staging" / "killed-mid-write").write_bytes(b"half")
    again = Objects(tmp_path)
    again.load()
    assert again.get(BUCKET, "a/b.json") == entry
    assert list(again.listed(BUCKET, "a/", "")) == ["a/b.json"]
    assert list((tmp_path / ".staging").iterdir()) == []


def batch(key: bytes, value: bytes = b"v") -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=0, is_transactional=False, producer_id=-1,
        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20,
    )  # fmt: skip
    builder.append(0, timestamp=1, key=key, value=value, headers=[])
    return bytes(builder.build())


def test_the_janitor_keeps_what_a_group_has_not_read_and_compacts_changelogs(
    tmp_path: Path,
) -> None:
    objects = Objects(tmp_path)
    objects.load()
    objects.ensure_bucket(BUCKET)
    now = [1000.0]
    retention = Retention(retention_s=3600, consumed_grace_s=30, group_ttl_s=600, interval_s=10)
    janitor = Janitor(objects, retention, clock=lambda: now[0])
    for offset in range(10):
        objects.put(BUCKET, RECORDS.format(topic="requests", offset=offset), batch(b"k"))
        objects.put(BUCKET, RECORDS.format(topic="usage", offset=offset), batch(b"k"))
    for offset, record_key in enumerate([b"a", b"b", b"a", b"c", b"b"]):
        objects.put(BUCKET, RECORDS.format(topic="t-changelog", offset=offset), batch(record_key))
    for group, committed in (("fast", 8), ("slow", 5)):
        offsets = COMMITTED.format(group=group, topic="requests")
        objects.put(BUCKET, offsets, json.dumps({"offset": committed}).encode())

    def left(topic: str) -> list[int]:
        prefix = RECORDS.format(topic=topic, offset=0).rsplit("/", 1)[0] + "/"
        return [int(key.rsplit("/", 1)[1][:20]) for key in objects.listed(BUCKET, prefix, "")]

    assert janitor.sweep() == 0  # everything is younger than the grace
    for key in list(objects.entries):
        objects.entries[key].mtime = now[0] - 60
    janitor.sweep()
    assert left("requests") == [5, 6, 7, 8, 9]  # slow's next offset is 5: 0-4 are read
    assert left("usage") == list(range(10))  # no group commits on it: kept, for now
    assert left("t-changelog") == [2, 3, 4]  # latest a, c, b
    # A group that has not committed for a long time holds nothing back any more.
    now[0] += 700
    fast = COMMITTED.format(group="fast", topic="requests")
    objects.put(BUCKET, fast, json.dumps({"offset": 8}).encode())
    objects.entries[(BUCKET, fast)].mtime = now[0]
    janitor.sweep()
    assert left("requests") == [8, 9]
    # Past the retention, anything but the newest batch goes.
    now[0] += 3600
    janitor.sweep()
    assert left("usage") == [9]
    assert (tmp_path / BUCKET / RECORDS.format(topic="usage", offset=0)).exists() is False
