"""``cutstream stack`` and ``cutstream up``: run the services in the foreground.

The runner owns every child: the embedded servers, the processor workers, the webhook
notifier, the ledger, the batch service and the HTTP gateway. Ctrl-C or SIGTERM stops the
services first (they finish and commit), then the broker, then S3. If a service dies on its
own, the runner stops everything and exits non-zero rather than carrying on half-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from streams.config.settings import Settings
from streams.stack import EmbeddedStack, Endpoint, ManagedProcess

log = logging.getLogger(__name__)

_POLL_S = 0.5


def service_process(
    settings: Settings, command: str, log_path: Path | None = None, name: str | None = None
) -> ManagedProcess:
    """A ``cutstream <command>`` child (worker, notifier, gateway) with ``settings``;
    its output goes to ``log_path``, or to this terminal."""
    env = {**os.environ, **settings.to_env()}
    argv = [sys.executable, "-m", "streams", command]
    return ManagedProcess(name or command, argv, env=env, log_path=log_path)


def worker_process(settings: Settings, index: int, log_path: Path | None = None) -> ManagedProcess:
    """A processor worker child with ``settings`` passed down through the environment;
    worker N serves /healthz and /metrics on ``worker.web_port`` + N."""
    if settings.worker.web_port:
        worker = settings.worker.model_copy(update={"web_port": settings.worker.web_port + index})
        settings = settings.model_copy(update={"worker": worker})
    return service_process(settings, "worker", log_path, name=f"worker-{index}")


def service_stop_timeout(settings: Settings) -> float:
    """How long a service may take to stop before SIGKILL: the grace its in-flight work
    has (``runtime.shutdown_grace_s``) plus the time any process gets to exit."""
    return settings.runtime.shutdown_grace_s + settings.stack.stop_timeout_s


def service_log(settings: Settings, name: str) -> Path:
    """Where ``cutstream up`` writes a service's output unless ``--verbose``."""
    return settings.state_dir / "logs" / f"{name}.log"


async def run_services(
    settings: Settings,
    *,
    workers: int,
    on_ready: Callable[[list[Endpoint]], None],
    verbose: bool = False,
) -> int:
    """Start the stack and ``workers`` processor workers; block until a signal. The
    services write to their log files (:func:`service_log`), or to this terminal when
    ``verbose``.

    Returns the exit code: 0 after a requested stop, 1 if a worker died on its own.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    stack = EmbeddedStack(settings)
    children: list[ManagedProcess] = []
    try:
        await stack.start()
        names = [f"worker-{index}" for index in range(workers)]
        if workers:
            names += ["notifier", *(["ledger"] if settings.metering.enabled else [])]
            names += ["batches", "gateway"]
        planned = [
            (
                worker_process(settings, int(name.removeprefix("worker-")), logs)
                if name.startswith("worker-")
                else service_process(settings, name, logs)
            )
            for name in names
            for logs in [None if verbose else service_log(settings, name)]
        ]
        for child in planned:
            child.start()
            children.append(child)
        on_ready(stack.endpoints())
        while not stop.is_set():
            for child in children:
                if (code := child.poll()) is not None:
                    log.error("%s exited with code %s; stopping everything", child.name, code)
                    return 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _POLL_S)
        return 0
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.stop(service_stop_timeout(settings))
        stack.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
