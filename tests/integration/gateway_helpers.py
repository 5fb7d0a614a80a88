"""Running gateways for tests: a real uvicorn process on the real stack."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from schemas.ledger import AccountView, Command, CreateAccount
from streams.config.settings import Settings
from streams.messaging.ledger import LedgerClient
from streams.stack import ManagedProcess
from streams.storage.apikeys import KeyStore
from streams.storage.s3 import S3ObjectStore
from tests.httpserver import Server
from tests.integration.support import free_port, start_service

DEV_KEY = "test-dev-key-0123456789"
TEXT = b"this is a shopping list, not a picture"
"""A body that is not an image (for the format errors)."""


def gateway_settings(base: Settings, **gateway: object) -> Settings:
    return base.model_copy(
        update={
            "gateway": base.gateway.model_copy(
                update={
                    "port": free_port(),
                    "dev_api_key": DEV_KEY,
                    "api_key_cache_s": 0.0,
                    **gateway,
                }
            )
        }
    )


@dataclass
class RunningGateway:
    settings: Settings
    process: ManagedProcess
    processes: list[ManagedProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.gateway.port}"

    def stop(self) -> None:
        for process in [self.process, *self.processes]:
            process.stop(15)


async def start_gateway(settings: Settings, log_dir: Path) -> RunningGateway:
    """Start a gateway and wait until it answers /healthz."""
    process = start_service(settings, "gateway", log_dir)
    running = RunningGateway(settings, process)
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while True:
            assert process.poll() is None, f"gateway died:\n{process.log_tail(30)}"
            try:
                if (await client.get(f"{running.url}/healthz")).status_code == 200:
                    return running
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "gateway never answered"
            await asyncio.sleep(0.2)


async def ask_ledger(settings: Settings, *commands: Command) -> list[AccountView | None]:
    """Send ``commands`` to the ledger one after another; the account after each (``None``
    where it was refused), waiting up to a minute for a ledger that is starting."""
    client = LedgerClient(settings, "test")
    await client.start()
    try:
        views = []
        for command in commands:
            deadline = time.monotonic() + 60
            while True:
                try:
                    reply = await client.ask(command)
                    break
                except Exception:  # the ledger has not joined its group yet
                    assert time.monotonic() < deadline, "the ledger never answered"
            views.append(reply.account if reply.ok else None)
        return views
    finally:
        await client.stop()


async def create_account(
    settings: Settings, name: str, plan: str = "internal", credits: int = 0
) -> AccountView:
    [view] = await ask_ledger(settings, CreateAccount(account=name, plan=plan, credits=credits))
    assert view is not None, f"could not create account {name}"
    return view


async def new_account(api: RunningGateway, plan: str, credits: int = 0) -> tuple[str, str]:
    """A fresh account on ``plan`` and an API key of it."""
    name = f"acct-{uuid.uuid4().hex[:10]}"
    await create_account(api.settings, name, plan, credits)
    key, _ = KeyStore(S3ObjectStore(api.settings), api.settings.s3.jobs_bucket).create(name)
    return name, key


def bearer(key: str = DEV_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def hooks(web: Server, path: str) -> list[tuple[dict[str, str], bytes]]:
    return [(h, b) for method, p, h, b in web.requests if method == "POST" and p == path]


async def until_hooked(web: Server, path: str, timeout: float = 90) -> tuple[dict[str, str], bytes]:
    deadline = time.monotonic() + timeout
    while not hooks(web, path):
        assert time.monotonic() < deadline, f"no webhook at {path}"
        await asyncio.sleep(0.3)
    return hooks(web, path)[0]


async def poll(
    client: httpx.AsyncClient, url: str, field: str, done: set[Any], **kw: Any
) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        response = await client.get(url, **kw)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body[field] in done:
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.3)


def image_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
