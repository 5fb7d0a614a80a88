"""All of cutstream's settings, in one pydantic-settings model.

Every field is read from the environment with the prefix ``CUTSTREAM_``; nested groups use
a double underscore: ``CUTSTREAM_KAFKA__BOOTSTRAP_SERVERS``, ``CUTSTREAM_S3__SECRET_KEY``.
A ``.env`` file in the working directory is read too. ``docs/configuration.md`` is
generated from this module (``make docs``); the groups are in streams/config/
(groups.py, models.py, stack.py, …).
"""

from __future__ import annotations

import json
import warnings
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.config.batches import BatchSettings
from streams.config.groups import (
    AccessSettings,
    GatewaySettings,
    Group,
    KafkaSettings,
    LimitSettings,
    OutputSettings,
    RuntimeSettings,
    S3Settings,
    UrlSettings,
    WebhookSettings,
    WorkerSettings,
)
from streams.config.metering import MeteringSettings
from streams.config.models import CustomModel, ModelSettings
from streams.config.stack import StackSettings
from streams.config.topics import TopicSettings

ENV_PREFIX = "CUTSTREAM_"
ENV_NESTED_DELIMITER = "__"
LOOPBACK = "127.0.0.1"
EXTERNAL_PARTITIONS = 12
EMBEDDED_PARTITIONS = 4

ALIASES: dict[tuple[str, str], tuple[str, str]] = {
    ("worker", "log_level"): ("runtime", "log_level"),
    ("worker", "log_format"): ("runtime", "log_format"),
    ("worker", "web_bind"): ("runtime", "web_bind"),
    ("worker", "max_batch"): ("runtime", "max_batch"),
    ("worker", "batch_window_s"): ("runtime", "batch_window_s"),
    ("worker", "shutdown_grace_s"): ("runtime", "shutdown_grace_s"),
    ("webhooks", "output_url_expiry_s"): ("outputs", "url_expiry_s"),
}
"""Former (group, field) names that still work, each with the one it became. A value under
the new name wins; the old name warns (FutureWarning) and is documented in
docs/configuration.md."""


def env_name(group: str, field: str) -> str:
    """The environment variable of ``group.field``, e.g. ``CUTSTREAM_KAFKA__CLIENT_ID``."""
    return f"{ENV_PREFIX}{group.upper()}{ENV_NESTED_DELIMITER}{field.upper()}"


class Settings(BaseSettings):
    """Root settings object; build it once per process and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        env_file=".env",
        extra="ignore",
        frozen=True,
    )

    state_dir: Path = Field(
        default=Path(".cutstream"),
        description="Directory for local state: the embedded S3 server's data (which "
        "also holds the embedded broker's log), process logs, Faust data.",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    urls: UrlSettings = Field(default_factory=UrlSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    outputs: OutputSettings = Field(default_factory=OutputSettings)
    metering: MeteringSettings = Field(default_factory=MeteringSettings)
    batches: BatchSettings = Field(default_factory=BatchSettings)
    stack: StackSettings = Field(default_factory=StackSettings)

    @model_validator(mode="before")
    @classmethod
    def _former_names(cls, data: Any) -> Any:
        """Move values given under a former name (:data:`ALIASES`) to their new place."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for (old_group, old_field), (new_group, new_field) in ALIASES.items():
            old = data.get(old_group)
            if not isinstance(old, dict) or old_field not in old:
                continue
            data[old_group] = {k: v for k, v in old.items() if k != old_field}
            warnings.warn(
                f"{env_name(old_group, old_field)} is now {env_name(new_group, new_field)}",
                FutureWarning,
                stacklevel=2,
            )
            new = data.get(new_group)
            if new is None:
                data[new_group] = {new_field: old[old_field]}
            elif isinstance(new, dict):
                data[new_group] = {new_field: old[old_field], **new}
        return data

    @property
    def kafka_embedded(self) -> bool:
        """True when no external Kafka is configured."""
        return self.kafka.bootstrap_servers is None

    @property
    def s3_embedded(self) -> bool:
        """True when no external S3 endpoint is configured."""
        return self.s3.endpoint is None

    @property
    def partitions(self) -> int:
        """Partitions of the topics cutstream creates (``topics.partitions``, resolved)."""
        if self.topics.partitions is not None:
            return self.topics.partitions
        return EMBEDDED_PARTITIONS if self.kafka_embedded else EXTERNAL_PARTITIONS

    def partitions_of(self, topic: str) -> int:
        """Partitions ``topic`` is created with: the delay tiers have their own count."""
        delayed = {*self.retry_topics, self.retry_due_topic, *self.webhook_retry_topics}
        return self.topics.delay_partitions if topic in delayed else self.partitions

    @property
    def kafka_bootstrap(self) -> str:
        """The bootstrap servers clients use, external or embedded."""
        return self.kafka.bootstrap_servers or f"{LOOPBACK}:{self.stack.kafka_port}"

    @property
    def s3_endpoint(self) -> str:
        """The S3 endpoint URL clients use, external or embedded."""
        return self.s3.endpoint or f"http://{LOOPBACK}:{self.stack.s3_port}"

    @property
    def retry_topics(self) -> tuple[str, ...]:
        """One retry topic per configured delay."""
        prefix = self.topics.retry_prefix
        return tuple(f"{prefix}.{tier}" for tier in range(1, len(self.worker.retry_delays_s) + 1))

    @property
    def retry_due_topic(self) -> str:
        """Where the retry tiers hand due requests back to the workers."""
        return f"{self.topics.retry_prefix}.due"

    @property
    def webhook_retry_topics(self) -> tuple[str, ...]:
        """One webhook retry topic per configured delay."""
        prefix = self.topics.webhook_retry_prefix
        count = len(self.webhooks.retry_delays_s)
        return tuple(f"{prefix}.{tier}" for tier in range(1, count + 1))

    @property
    def all_topics(self) -> tuple[str, ...]:
        """Every topic cutstream produces to or consumes from."""
        topics = self.topics
        return (
            topics.requests,
            topics.completed,
            topics.failed,
            topics.dead_letter,
            *self.retry_topics,
            self.retry_due_topic,
            topics.webhook_deliveries,
            topics.webhook_dead_letter,
            topics.webhook_events,
            *self.webhook_retry_topics,
            topics.ledger_commands,
            topics.ledger_replies,
            topics.usage,
            topics.bulk_requests,
            topics.batches,
            topics.batch_progress,
            topics.batch_completed,
        )

    def to_env(self) -> dict[str, str]:
        """These settings as ``CUTSTREAM_*`` variables (secrets included), for a child
        process. Groups become ``GROUP__FIELD``; lists and maps become JSON."""
        env: dict[str, str] = {}
        for name, value in self:
            if isinstance(value, Group):
                for field, inner in value:
                    _put(env, env_name(name, field), inner)
            else:
                _put(env, f"{ENV_PREFIX}{name.upper()}", value)
        return env


def _plain(value: Any) -> Any:
    """``value`` with secrets revealed and models, paths and enums made JSON-ready."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {name: _plain(inner) for name, inner in value}
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(inner) for inner in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _put(env: dict[str, str], key: str, value: Any) -> None:
    plain = _plain(value)
    if plain is None:
        return
    if isinstance(plain, dict | list | bool):
        env[key] = json.dumps(plain)
    else:
        env[key] = str(plain)


def setting_names() -> set[str]:
    """Every environment variable name that sets a field of :class:`Settings` (the former
    names in :data:`ALIASES` included)."""
    names: set[str] = {env_name(*old) for old in ALIASES}
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.update(env_name(name, sub) for sub in annotation.model_fields)
        else:
            names.add(f"{ENV_PREFIX}{name.upper()}")
    return names


__all__ = [
    "ALIASES",
    "ENV_NESTED_DELIMITER",
    "ENV_PREFIX",
    "LOOPBACK",
    "AccessSettings",
    "CustomModel",
    "GatewaySettings",
    "KafkaSettings",
    "LimitSettings",
    "ModelSettings",
    "OutputSettings",
    "RuntimeSettings",
    "S3Settings",
    "Settings",
    "StackSettings",
    "TopicSettings",
    "UrlSettings",
    "WebhookSettings",
    "WorkerSettings",
    "env_name",
    "setting_names",
]
