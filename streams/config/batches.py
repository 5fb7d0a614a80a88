"""Bulk-import settings: the batch service (planner and tracker) and the bulk lane."""

from __future__ import annotations

from pydantic import Field

from streams.config.groups import Group


class BatchSettings(Group):
    """Batches: manifests or bucket prefixes in, a results manifest out (`cutstream batches`)."""

    group_id: str = Field(
        default="cutstream-batches",
        description="Consumer group (Faust app id) of the batch service: the planner reads "
        "`topics.batches`, the tracker `topics.batch_progress`.",
    )
    plan_at_once: int = Field(
        default=2,
        ge=1,
        description="Batches one batch-service process plans at the same time.",
    )
    checkpoint_every: int = Field(
        default=500,
        ge=1,
        description="Items the planner queues between checkpoints; a restarted planner "
        "resumes at the last one (items after it are queued again and answered from their "
        "job records, never run twice).",
    )
    max_items: int = Field(
        default=1_000_000,
        ge=1,
        description="Most items one batch may have; the planner stops the source there and "
        "the batch records it.",
    )
    bulk_in_flight: int = Field(
        default=3,
        ge=1,
        description="Batch items one worker has in flight at once. A worker starts one only "
        "while no interactive request is in flight there, and the model runs interactive "
        "requests first.",
    )
    tracker_window_s: float = Field(
        default=1.0,
        gt=0,
        description="How long the tracker gathers outcomes before it writes them (one "
        "results chunk and one state object per batch per window).",
    )
    fetch_max_wait_ms: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="`kafka.fetch_max_wait_ms` of the batch service: planning and counting "
        "need no low latency, and on Tansu (which answers a fetch when its wait runs out) "
        "every fetch costs broker CPU that the workers could use.",
    )
    web_port: int = Field(
        default=6072,
        ge=0,
        le=65535,
        description="Port of the batch service's /healthz and /metrics; 0 disables.",
    )
