"""Settings of the embedded stack (`cutstream stack` / `up`): the broker, its log store and
the S3 server."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from streams.config.groups import Group

DAY_S = 24 * 3600.0


class StackSettings(Group):
    """The embedded Kafka-protocol broker and S3 server (`cutstream stack` / `up`)."""

    kafka_port: int = Field(
        default=9092, ge=1, le=65535, description="Loopback port of the embedded broker."
    )
    s3_port: int = Field(
        default=9000, ge=1, le=65535, description="Loopback port of the embedded S3 server."
    )
    kafka_storage: Literal["local", "memory"] = Field(
        default="local",
        description="Where the embedded broker keeps its log: `local` (files under "
        "`<state_dir>/broker`, served to the broker by the stack's own log store, so topics "
        "and committed offsets survive a restart) or `memory` (lost when it stops). `s3`, "
        "the former name of the durable mode, means `local`.",
    )
    log_retention_s: float = Field(
        default=7 * DAY_S,
        gt=0,
        description="Longest the embedded broker keeps a record batch, read or not (Kafka's "
        "`retention.ms`; changelog topics are compacted instead).",
    )
    log_consumed_grace_s: float = Field(
        default=5.0,
        ge=0,
        description="A record batch every consumer group of its topic has committed past is "
        "deleted this long after it was written (a reader outside the groups that rewinds "
        "within it still finds it). The broker lists a partition's batches on every fetch, "
        "so what a busy partition keeps is what each fetch costs: keep this short. Topics "
        "no group commits on (results read by `submit`, usage, dead letters) keep theirs "
        "for `log_retention_s`; the ledger's replies for `metering.reply_timeout_s`.",
    )
    log_group_ttl_s: float = Field(
        default=7 * DAY_S,
        gt=0,
        description="A consumer group that has not committed for this long no longer holds "
        "back the deletion of what the others have read.",
    )
    log_janitor_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="How often the log store applies retention and compacts changelogs.",
    )
    startup_timeout_s: float = Field(
        default=60.0, gt=0, description="How long to wait for each server to answer."
    )
    stop_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="How long a stopping server may take after SIGTERM before SIGKILL.",
    )

    @field_validator("kafka_storage", mode="before")
    @classmethod
    def _former_name(cls, value: Any) -> Any:
        return "local" if value == "s3" else value
