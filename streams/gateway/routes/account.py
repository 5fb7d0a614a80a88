"""The calling account: ``GET /v1/account`` (plan, credits, limits, daily usage) and its
API keys (``/v1/keys``: list, create — shown once — and revoke). Every route acts on the
account of the key presented, and on nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from schemas.api.account import AccountPage, KeyCreate, KeyCreated, KeyView, PlanView
from schemas.api.native import ApiErrorBody
from streams.exceptions import ObjectNotFoundError
from streams.gateway.deps import Account, Service
from streams.gateway.errors import ApiError
from streams.storage.apikeys import ApiKeyRecord

router = APIRouter(tags=["account"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ApiErrorBody, "description": "Missing or invalid API key"},
    403: {"model": ApiErrorBody, "description": "The account is suspended"},
}


@router.get("/v1/account", response_model=AccountPage, responses=ERRORS, summary="The account")
async def get_account(account: Account, service: Service) -> AccountPage:
    """Plan, status, credits, each limited window's use and the last 30 days, from the
    ledger's view of the account (a second or so behind)."""
    if service.meter is None:
        return AccountPage(account=account, metering=False)
    view = await service.meter.views.cached(account)
    if view is None:
        return AccountPage(account=account, metering=True)
    plan = service.settings.metering.plans.get(view.plan)
    return AccountPage(
        account=account,
        metering=True,
        plan=PlanView(name=view.plan, **plan.model_dump()) if plan is not None else None,
        status=view.status,
        credits=view.credits,
        subscription_end=view.subscription_end,
        usage=view.usage,
        daily=view.daily,
        updated_at=view.updated_at,
    )


def _view(record: ApiKeyRecord) -> KeyView:
    return KeyView(
        id=record.key_id,
        name=record.name,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )


@router.get("/v1/keys", response_model=list[KeyView], responses=ERRORS, summary="API keys")
async def list_keys(account: Account, service: Service) -> list[KeyView]:
    """The account's keys, newest first (revoked ones included, marked)."""
    return [_view(record) for record in await asyncio.to_thread(service.keys.list, account)]


@router.post(
    "/v1/keys", status_code=201, response_model=KeyCreated, responses=ERRORS, summary="New key"
)
async def create_key(body: KeyCreate, account: Account, service: Service) -> KeyCreated:
    """A new key for the account. The key is in this answer only: it is stored as a
    hash."""
    key, record = await asyncio.to_thread(service.keys.create, account, body.name)
    return KeyCreated(**_view(record).model_dump(), key=key)


@router.delete(
    "/v1/keys/{key_id}",
    response_model=KeyView,
    responses={**ERRORS, 404: {"model": ApiErrorBody, "description": "No such key"}},
    summary="Revoke a key",
)
async def revoke_key(key_id: str, account: Account, service: Service) -> KeyView:
    """Revoke one of the account's keys (at once on this gateway, within
    `gateway.api_key_cache_s` on the others). Another account's key is 404, as a missing
    one is."""
    try:
        return _view(await asyncio.to_thread(service.keys.revoke, key_id, account))
    except ObjectNotFoundError as exc:
        raise ApiError(404, "not_found", exc.message) from None
