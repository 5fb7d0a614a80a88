"""Accounts as the ledger last wrote them: a projection in the object store.

The ledger (:mod:`streams.ledger.app`) owns every balance and counter in its Faust table
and writes each changed account here at most every ``metering.projection_interval_s``.
Readers that can live with a second's lag use it: ``cutstream accounts list``, and the
gateway's status check on routes that do not go through the ledger (polls), cached for
``gateway.api_key_cache_s`` like API keys.
"""

from __future__ import annotations

import asyncio

from cachetools import LRUCache, TTLCache

from schemas.ledger import AccountView
from streams.exceptions import ObjectNotFoundError
from streams.storage.base import ObjectStore
from streams.storage.layout import ACCOUNTS_PREFIX, account_key

_CACHE_ENTRIES = 10_000


class AccountViews:
    """Account projections in the jobs bucket, with a short cache for lookups."""

    def __init__(self, store: ObjectStore, bucket: str, cache_s: float = 10.0) -> None:
        self.store = store
        self.bucket = bucket
        self._cache: TTLCache[str, tuple[AccountView | None]] = TTLCache(_CACHE_ENTRIES, cache_s)
        self._latest: LRUCache[str, AccountView] = LRUCache(_CACHE_ENTRIES)

    def put(self, view: AccountView) -> None:
        data = view.model_dump_json().encode()
        self.store.put(self.bucket, account_key(view.name), data, "application/json")

    def get(self, account: str) -> AccountView | None:
        try:
            data = self.store.get(self.bucket, account_key(account))
        except ObjectNotFoundError:
            return None
        return AccountView.model_validate_json(data)

    def list(self) -> list[AccountView]:
        return [
            AccountView.model_validate_json(self.store.get(self.bucket, key))
            for key in self.store.list_keys(self.bucket, ACCOUNTS_PREFIX)
        ]

    async def cached(self, account: str) -> AccountView | None:
        """``get``, from the cache when it is fresh enough."""
        hit = self._cache.get(account)
        if hit is not None:
            return hit[0]
        view = await asyncio.to_thread(self.get, account)
        self._cache[account] = (view,)
        if view is not None:
            self._keep(view)
        return view

    def remember(self, view: AccountView) -> None:
        """A fresher view (from a ledger reply) than the store may have yet."""
        self._cache[view.name] = (view,)
        self._keep(view)

    def known(self, account: str) -> AccountView | None:
        """The newest view this process has seen, without reading the store."""
        return self._latest.get(account)

    def _keep(self, view: AccountView) -> None:
        seen = self._latest.get(view.name)
        if seen is None or seen.updated_at <= view.updated_at:
            self._latest[view.name] = view
