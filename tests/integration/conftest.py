"""One real stack per test session; each test gets its own topics and consumer group.

By default the stack is the embedded one (Tansu and cutstream's own S3 server, started
here on free loopback ports and stopped at the end of the session). With
``CUTSTREAM_TEST_STACK=containers`` and a reachable Docker engine, Apache Kafka and MinIO
run in testcontainers instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright

from schemas.ledger import Plan, Show
from streams.config.settings import Settings
from streams.stack import EmbeddedStack, ManagedProcess, ensure_topics
from streams.storage.s3 import S3ObjectStore
from tests.httpserver import Server, serve
from tests.images import photo_jpeg
from tests.integration.gateway_helpers import (
    RunningGateway,
    ask_ledger,
    gateway_settings,
    start_gateway,
)
from tests.integration.support import (
    SERVER_LOGS,
    error_lines,
    free_port,
    start_service,
)

pytestmark = pytest.mark.integration

WorkerFactory = Callable[..., ManagedProcess]


def embedded_settings(state_dir: Path, **groups: dict[str, Any]) -> Settings:
    """Settings for an embedded stack of its own: fresh state, free ports, small topics;
    what the groups have read is kept for 5 minutes (tests read topics from the start to
    check what was published)."""
    stack = {"kafka_port": free_port(), "s3_port": free_port(), "log_consumed_grace_s": 300}
    fields: dict[str, Any] = {
        **groups,
        "state_dir": state_dir,
        "stack": {**stack, **groups.get("stack", {})},
        "topics": {"partitions": 4, **groups.get("topics", {})},
    }
    return Settings(**fields)


def _container_settings(resources: ExitStack, state_dir: Path) -> Settings:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.minio import MinioContainer

    kafka = resources.enter_context(KafkaContainer())
    minio = resources.enter_context(MinioContainer())
    config = minio.get_config()
    return Settings(
        state_dir=state_dir,
        kafka={"bootstrap_servers": kafka.get_bootstrap_server()},
        s3={
            "endpoint": f"http://{config['endpoint']}",
            "access_key": config["access_key"],
            "secret_key": config["secret_key"],
        },
        topics={"partitions": 4},
    )


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of the session's running stack (buckets and default topics provisioned)."""
    state_dir = tmp_path_factory.mktemp("stack")
    embedded = os.environ.get("CUTSTREAM_TEST_STACK") != "containers"
    with ExitStack() as resources:
        if embedded:
            settings = embedded_settings(state_dir)
        else:
            settings = _container_settings(resources, state_dir)
        stack = EmbeddedStack(settings)  # starts only what is embedded
        asyncio.run(stack.start())
        resources.callback(stack.stop)
        yield settings
    if embedded:  # the embedded servers logged no ERROR line in the whole suite
        logged = error_lines(settings.state_dir / "logs", {})
        assert logged == {name: [] for name in SERVER_LOGS}


@pytest.fixture
def settings(stack_settings: Settings) -> Settings:
    """The session stack with topics and a consumer group private to this test."""
    settings = private_topics(stack_settings)
    asyncio.run(ensure_topics(settings, settings.all_topics))
    return settings


def private_topics(base: Settings, **worker: Any) -> Settings:
    """``base`` with fresh topic names and consumer group (create them with
    ``ensure_topics``); retries fast, no web port unless asked for (several workers run
    side by side)."""
    suffix = uuid.uuid4().hex[:10]
    topics = base.topics.model_copy(
        update={
            "requests": f"test.{suffix}.requests",
            "completed": f"test.{suffix}.completed",
            "failed": f"test.{suffix}.failed",
            "dead_letter": f"test.{suffix}.dead-letter",
            "retry_prefix": f"test.{suffix}.retry",
            "webhook_deliveries": f"test.{suffix}.webhooks",
            "webhook_retry_prefix": f"test.{suffix}.webhooks.retry",
            "webhook_dead_letter": f"test.{suffix}.webhooks.dead-letter",
            "webhook_events": f"test.{suffix}.webhooks.events",
            "ledger_commands": f"test.{suffix}.ledger.commands",
            "ledger_replies": f"test.{suffix}.ledger.replies",
            "usage": f"test.{suffix}.usage",
            "bulk_requests": f"test.{suffix}.requests.bulk",
            "batches": f"test.{suffix}.batches",
            "batch_progress": f"test.{suffix}.batches.progress",
            "batch_completed": f"test.{suffix}.batches.completed",
        }
    )
    worker_settings = base.worker.model_copy(
        update={
            "group_id": f"test-{suffix}",
            "retry_delays_s": [0.5, 1.0, 2.0],
            "web_port": 0,
            **worker,
        }
    )
    webhooks = base.webhooks.model_copy(
        update={
            "group_id": f"test-notifier-{suffix}",
            "retry_delays_s": [0.5, 1.0, 1.5],
            "timeout_s": 1.0,
            "web_port": 0,
        }
    )
    metering = base.metering.model_copy(
        update={"group_id": f"test-ledger-{suffix}", "web_port": 0, "projection_interval_s": 0.2}
    )
    batches = base.batches.model_copy(
        update={"group_id": f"test-batches-{suffix}", "web_port": 0, "tracker_window_s": 0.2}
    )
    urls = base.urls.model_copy(update={"allow_http": True, "allow_loopback": True})
    return base.model_copy(
        update={
            "topics": topics,
            "worker": worker_settings,
            "webhooks": webhooks,
            "metering": metering,
            "batches": batches,
            "urls": urls,
        }
    )


@pytest.fixture
def store(settings: Settings) -> S3ObjectStore:
    return S3ObjectStore(settings)


@pytest.fixture
def start_worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start processor workers or notifiers (real `python -m streams worker|notifier`
    processes) for this test."""
    started: list[ManagedProcess] = []

    def start(worker_settings: Settings = settings, command: str = "worker") -> ManagedProcess:
        process = start_service(worker_settings, command, tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop(timeout=15)
        print(f"--- {process.name} log (last lines) ---\n{process.log_tail(40)}")


TEST_PLANS = {
    "test-minute": Plan(per_minute=1, description="One request a minute."),
    "test-day": Plan(per_day=1, description="One request a day."),
}
"""Plans the ``api`` fixture's ledger has besides the defaults, to reach a limit at once."""

CUP = photo_jpeg("coffee")  # 600x400, the gateway tests' image


@pytest.fixture(scope="session")
def web() -> Iterator[Server]:
    """Serves the test image at /cup.jpg and records every other request (webhooks)."""
    with serve(
        {"/cup.jpg": lambda h: h.reply(200, CUP)}, fallback=lambda h: h.reply(204)
    ) as server:
        yield server


@pytest.fixture(scope="session")
def api(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    """A gateway, a worker, a notifier, a ledger and a batch service on topics private to
    this session."""
    settings = gateway_settings(private_topics(stack_settings), sync_timeout_s=90.0)
    plans = settings.metering.plans | TEST_PLANS
    settings = settings.model_copy(
        update={"metering": settings.metering.model_copy(update={"plans": plans})}
    )
    asyncio.run(ensure_topics(settings, settings.all_topics))
    logs = tmp_path_factory.mktemp("gateway-logs")
    workers = [
        start_service(settings, "worker", logs),
        start_service(settings, "notifier", logs),
        start_service(settings, "ledger", logs),
        start_service(settings, "batches", logs),
    ]
    gateway = asyncio.run(start_gateway(settings, logs))
    gateway.processes += workers
    asyncio.run(ask_ledger(settings, Show(account="default")))  # the ledger has joined
    yield gateway
    gateway.stop()
    for process in [gateway.process, *workers]:
        print(f"--- {process.name} ---\n{process.log_tail(20)}")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("chromium is not installed (`make test` installs Debian's chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        await launched.close()
