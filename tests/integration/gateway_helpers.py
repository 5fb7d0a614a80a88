"""Running gateways for tests: a real uvicorn process on the real stack."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from streams.settings import Settings
from streams.stack import ManagedProcess
from tests.integration.conftest import free_port, start_service

DEV_KEY = "test-dev-key-0123456789"


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


def bearer(key: str = DEV_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
