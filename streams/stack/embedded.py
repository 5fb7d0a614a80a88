"""Start, provision and stop the embedded stack (S3 server first, then the broker)."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Literal

from streams.config.settings import LOOPBACK, Settings
from streams.stack.process import ManagedProcess
from streams.stack.provision import (
    ensure_buckets,
    kafka_probe,
    provision,
    s3_probe,
    wait_until,
)
from streams.stack.servers import (
    BROKER_BUCKET,
    ensure_port_free,
    free_port,
    kafka_broker,
    log_store,
    s3_server,
)
from streams.storage.s3 import S3ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    """One service the stack offers, for printing."""

    name: str
    address: str
    managed: bool
    log: str | None = None


class EmbeddedStack:
    """The Kafka-protocol broker and S3 server cutstream needs, started only where the
    settings do not point at external ones.

    ``start`` waits until each server answers a real request (an S3 bucket listing, a
    Kafka metadata request), then creates the buckets and topics. Must be started and
    stopped from the main thread (see :class:`ManagedProcess`).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: list[ManagedProcess] = []
        self.log_store_url = f"http://{LOOPBACK}:{free_port()}"
        """Where the broker's log store listens; only the broker talks to it."""

    async def start(self) -> None:
        """Start what is embedded, wait for both parts, provision. Stops what it started
        before re-raising if anything fails."""
        try:
            await self._start()
        except BaseException:
            self.stop()
            raise

    async def _start(self) -> None:
        settings = self.settings
        if settings.s3_embedded:
            ensure_port_free(settings.stack.s3_port, "S3 server", "CUTSTREAM_STACK__S3_PORT")
            await self._start_server("s3")
        if settings.kafka_embedded:
            if settings.stack.kafka_storage == "local":
                await self._start_log_store()
            await self._start_server("kafka")
        await provision(settings)

    async def _start_log_store(self) -> None:
        """The broker's log store (logstore.py), its bucket made, before the broker."""
        port = int(self.log_store_url.rsplit(":", 1)[1])
        process = self._launch(log_store(self.settings, dict(os.environ), port))
        store = S3ObjectStore(self.settings, retries=0, endpoint_url=self.log_store_url)
        await wait_until(
            s3_probe(store),
            what="the broker's log store",
            timeout=self.settings.stack.startup_timeout_s,
            process=process,
        )
        await ensure_buckets(store, [BROKER_BUCKET])

    async def _start_server(self, name: Literal["s3", "kafka"]) -> None:
        settings = self.settings
        timeout = settings.stack.startup_timeout_s
        if name == "s3":
            s3 = self._launch(s3_server(settings, dict(os.environ)))
            store = S3ObjectStore(settings, retries=0)
            await wait_until(s3_probe(store), what="the S3 server", timeout=timeout, process=s3)
        else:
            durable = settings.stack.kafka_storage == "local"
            broker = self._launch(
                kafka_broker(settings, dict(os.environ), self.log_store_url if durable else None)
            )
            await wait_until(
                kafka_probe(settings), what="the Kafka broker", timeout=timeout, process=broker
            )

    async def restart(self, name: Literal["s3", "kafka"], downtime_s: float = 0.0) -> None:
        """Stop the managed server ``name`` ("s3" or "kafka"), stay down ``downtime_s``,
        start it again on the same port and data, and wait until it answers. For failure
        drills and tests; clients are expected to reconnect on their own."""
        (process,) = [p for p in self.processes if p.name == name]
        self.processes.remove(process)
        process.stop(self.settings.stack.stop_timeout_s)
        await asyncio.sleep(downtime_s)
        await self._start_server(name)

    def _launch(self, process: ManagedProcess) -> ManagedProcess:
        process.start()
        self.processes.append(process)
        return process

    def stop(self) -> None:
        """Stop the managed servers, broker first (it writes its log to S3)."""
        timeout = self.settings.stack.stop_timeout_s
        while self.processes:
            process = self.processes.pop()
            code = process.stop(timeout)
            log.info("stopped %s (exit code %s)", process.name, code)

    def endpoints(self) -> list[Endpoint]:
        """What clients should connect to, and whether this stack runs it."""
        managed = {process.name: process for process in self.processes}
        return [
            Endpoint(
                "Kafka",
                self.settings.kafka_bootstrap,
                "kafka" in managed,
                str(managed["kafka"].log_path) if "kafka" in managed else None,
            ),
            Endpoint(
                "S3",
                self.settings.s3_endpoint,
                "s3" in managed,
                str(managed["s3"].log_path) if "s3" in managed else None,
            ),
        ]
