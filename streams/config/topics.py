"""Kafka topic settings (``topics.*``): every topic cutstream reads or writes, and how the
ones it creates are made."""

from __future__ import annotations

from pydantic import Field

from streams.config.groups import Group


class TopicSettings(Group):
    """Kafka topic names and how they are created."""

    requests: str = Field(default="cutstream.image.requests", description="Request events.")
    completed: str = Field(default="cutstream.image.completed", description="Completed events.")
    failed: str = Field(default="cutstream.image.failed", description="Failed events.")
    dead_letter: str = Field(
        default="cutstream.image.dead-letter",
        description="Messages that could not be processed, with the reason.",
    )
    retry_prefix: str = Field(
        default="cutstream.image.requests.retry",
        description="Retry topics are `<prefix>.1`, `<prefix>.2`… one per entry of "
        "`worker.retry_delays_s`; due retries go to `<prefix>.due`, the only topic whose "
        "attempt header the workers trust.",
    )
    webhook_deliveries: str = Field(
        default="cutstream.webhooks.deliveries", description="Webhook deliveries to attempt."
    )
    webhook_retry_prefix: str = Field(
        default="cutstream.webhooks.retry",
        description="Webhook retry topics are `<prefix>.1`… one per entry of "
        "`webhooks.retry_delays_s`.",
    )
    webhook_dead_letter: str = Field(
        default="cutstream.webhooks.dead-letter",
        description="Webhooks that were never delivered, with the reason.",
    )
    webhook_events: str = Field(
        default="cutstream.webhooks.events", description="`webhook.exhausted` events."
    )
    ledger_commands: str = Field(
        default="cutstream.ledger.commands",
        description="Commands to the account ledger, keyed by account (one writer each).",
    )
    ledger_replies: str = Field(
        default="cutstream.ledger.replies",
        description="The ledger's answers, keyed by the instance that asked.",
    )
    usage: str = Field(
        default="cutstream.usage",
        description="Usage events: every grant, reservation, charge and refund, for billing.",
    )
    bulk_requests: str = Field(
        default="cutstream.image.requests.bulk",
        description="The bulk lane: requests of batch items, which workers take only while "
        "the interactive lane (`requests`) leaves them room.",
    )
    batches: str = Field(
        default="cutstream.batches",
        description="`batch.submitted` events, keyed by batch id, for the planner.",
    )
    batch_progress: str = Field(
        default="cutstream.batches.progress",
        description="Batch items' outcomes (`batch.item`) and `batch.planned`, keyed by "
        "batch id, for the tracker (one owner per batch).",
    )
    batch_completed: str = Field(
        default="cutstream.batches.completed",
        description="`batch.completed` events: counts and the results manifest's URL.",
    )
    partitions: int | None = Field(
        default=None,
        ge=1,
        description="Partitions for topics cutstream creates; the most processor workers "
        "that can share the load. Default: 12 on an external Kafka; 4 on the embedded "
        "broker, which does work for every partition each fetch polls (docs/benchmarks.md"
        "#the-embedded-stack-at-rest-benchstackpy). Set it before the topics are created.",
    )
    delay_partitions: int = Field(
        default=1,
        ge=1,
        description="Partitions of the retry tiers and the due-retry topic (image and "
        "webhook): each tier is read in due order and carries little, so one partition each "
        "costs the broker least.",
    )
    replication_factor: int = Field(
        default=1, ge=1, description="Replication factor for topics cutstream creates."
    )
