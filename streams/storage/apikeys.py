"""API keys: created, listed and revoked by the CLI, checked by the gateway.

A key reads ``csk_<id>_<secret>``: the id finds its record, the secret (32 random bytes)
proves possession. Records live in the jobs bucket (see :mod:`streams.storage.layout`) and
hold only the SHA-256 of the whole key — never the key itself; with 256 random bits a plain
hash is enough (there is nothing to brute-force). The key is shown once, at creation.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from datetime import datetime

from cachetools import TTLCache
from pydantic import BaseModel, ConfigDict, Field

from schemas.events import AccountId, utc_now
from streams.exceptions import ObjectNotFoundError
from streams.storage.base import ObjectStore
from streams.storage.layout import API_KEYS_PREFIX, api_key_record_key

_CACHE_ENTRIES = 10_000
_FORMAT = re.compile(r"^csk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_KEY_ID = re.compile(r"[0-9a-f]{16}")


class ApiKeyRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    key_id: str
    account: AccountId
    name: str = ""
    sha256: str
    created_at: datetime = Field(default_factory=utc_now)
    revoked_at: datetime | None = None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _holder(record: ApiKeyRecord | None, key: str) -> str | None:
    if record is None or record.revoked_at is not None:
        return None
    return record.account if hmac.compare_digest(record.sha256, _digest(key)) else None


class KeyStore:
    """API key records in the object store, with a short cache for lookups."""

    def __init__(self, store: ObjectStore, bucket: str, cache_s: float = 10.0) -> None:
        self.store = store
        self.bucket = bucket
        # Bounded: every well-formed key presented (found or not) takes an entry.
        # Values are 1-tuples so that a cached "no such key" is told apart from a miss.
        self._cache: TTLCache[str, tuple[ApiKeyRecord | None]] = TTLCache(_CACHE_ENTRIES, cache_s)

    def create(self, account: str, name: str = "") -> tuple[str, ApiKeyRecord]:
        """A new key for ``account``: returns the key (shown once) and its record."""
        key_id = secrets.token_hex(8)
        key = f"csk_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKeyRecord(key_id=key_id, account=account, name=name, sha256=_digest(key))
        self._put(record)
        return key, record

    def list(self, account: str | None = None) -> list[ApiKeyRecord]:
        """Every key record (``account``'s only, when given), newest first."""
        records = [
            ApiKeyRecord.model_validate_json(self.store.get(self.bucket, key))
            for key in self.store.list_keys(self.bucket, API_KEYS_PREFIX)
        ]
        mine = [r for r in records if account is None or r.account == account]
        return sorted(mine, key=lambda record: record.created_at, reverse=True)

    def revoke(self, key_id: str, account: str | None = None) -> ApiKeyRecord:
        """Revoke a key by id; :class:`ObjectNotFoundError` if there is no such key (or,
        with ``account``, it is another account's: the same answer, so key ids of other
        accounts cannot be probed)."""
        record = self._get(key_id) if _KEY_ID.fullmatch(key_id) else None
        if record is None or (account is not None and record.account != account):
            raise ObjectNotFoundError(f"no API key {key_id[:64]}")
        revoked = record.model_copy(update={"revoked_at": record.revoked_at or utc_now()})
        self._put(revoked)
        self._cache.pop(key_id, None)  # refused at once here; elsewhere when caches expire
        return revoked

    async def account_for(self, key: str) -> str | None:
        """The account a presented key belongs to, or ``None`` (unknown, malformed or
        revoked). Comparison is constant-time."""
        match = _FORMAT.match(key)
        return None if match is None else _holder(await self._cached(match.group(1)), key)

    def account_now(self, key: str) -> str | None:
        """:meth:`account_for` read from the store, not the cache, for callers that are not
        async (``cutstream up``'s console key)."""
        match = _FORMAT.match(key)
        return None if match is None else _holder(self._get(match.group(1)), key)

    async def _cached(self, key_id: str) -> ApiKeyRecord | None:
        hit = self._cache.get(key_id)
        if hit is not None:
            return hit[0]
        record = await asyncio.to_thread(self._get, key_id)
        self._cache[key_id] = (record,)
        return record

    def _get(self, key_id: str) -> ApiKeyRecord | None:
        try:
            return ApiKeyRecord.model_validate_json(
                self.store.get(self.bucket, api_key_record_key(key_id))
            )
        except ObjectNotFoundError:
            return None

    def _put(self, record: ApiKeyRecord) -> None:
        self.store.put(
            self.bucket,
            api_key_record_key(record.key_id),
            record.model_dump_json().encode(),
            "application/json",
        )
