"""API keys: stored as hashes, looked up through a short cache, revocable."""

from __future__ import annotations

import pytest

from streams.exceptions import ObjectNotFoundError
from streams.storage.apikeys import KeyStore
from streams.storage.memory import MemoryObjectStore


def store() -> MemoryObjectStore:
    objects = MemoryObjectStore()
    objects.ensure_bucket("jobs")
    return objects


async def test_a_created_key_finds_its_account_and_only_its_hash_is_stored() -> None:
    objects = store()
    keys = KeyStore(objects, "jobs", cache_s=0)
    key, record = keys.create("acme", "ci")
    assert await keys.account_for(key) == "acme"
    stored = objects.get("jobs", f"_keys/{record.key_id}.json")
    assert key.encode() not in stored
    assert await keys.account_for(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert await keys.account_for("not-a-key") is None


async def test_revocation_shows_once_the_cache_entry_expires() -> None:
    objects = store()
    cached = KeyStore(objects, "jobs", cache_s=3600)
    uncached = KeyStore(objects, "jobs", cache_s=0)
    key, record = cached.create("acme")
    assert await cached.account_for(key) == "acme"
    uncached.revoke(record.key_id)
    assert await uncached.account_for(key) is None
    assert await cached.account_for(key) == "acme"  # still within its cache time


async def test_an_unknown_key_is_remembered_as_unknown() -> None:
    objects = store()
    keys = KeyStore(objects, "jobs", cache_s=3600)
    key, _ = KeyStore(objects, "jobs").create("acme")
    forged = "csk_" + "0" * 16 + key[20:]
    assert await keys.account_for(forged) is None
    objects.put("jobs", "_keys/" + "0" * 16 + ".json", b"{}", "application/json")
    assert await keys.account_for(forged) is None  # answered from the cache, not the store


async def test_an_account_lists_and_revokes_only_its_own_keys() -> None:
    objects = store()
    keys = KeyStore(objects, "jobs", cache_s=3600)
    mine, first = keys.create("acme", "one")
    _, second = keys.create("acme", "two")
    theirs, other = keys.create("other")
    assert [r.key_id for r in keys.list("acme")] == [second.key_id, first.key_id]
    assert len(keys.list()) == 3
    with pytest.raises(ObjectNotFoundError):
        keys.revoke(other.key_id, "acme")
    with pytest.raises(ObjectNotFoundError):
        keys.revoke("../../outputs/x", "acme")
    assert await keys.account_for(theirs) == "other"
    assert await keys.account_for(mine) == "acme"
    keys.revoke(first.key_id, "acme")
    assert await keys.account_for(mine) is None  # at once in the process that revoked it
