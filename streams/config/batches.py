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
        description="Batches one batch-service process works on at the same time (reading "
        "a source, or queueing one checkpoint's worth of items); a batch gives its place up "
        "after each, and places go round the accounts waiting.",
    )
    plan_per_account: int = Field(
        default=1,
        ge=1,
        description="Of those places, how many one account may hold at once: one account's "
        "batches never hold them all.",
    )
    plan_queue: int = Field(
        default=1000,
        ge=1,
        description="Submitted batches one batch-service process holds at once (planning or "
        "waiting for a place); more wait unread in `topics.batches`.",
    )
    max_outstanding_per_account: int = Field(
        default=256,
        ge=1,
        description="Items of one account queued on the bulk lane but without an outcome; "
        "the planner queues more only as they finish, so a big batch trickles in and "
        "another account's items wait behind at most this many. Enough to keep every "
        "worker busy (workers x `bulk_in_flight`, with room for the tracker's window).",
    )
    outstanding_poll_s: float = Field(
        default=1.0,
        gt=0,
        description="How often a planner held back by `max_outstanding_per_account` looks "
        "at its account's progress (and whether its batch was canceled).",
    )
    max_manifest_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Largest manifest (CSV or JSONL) a batch may have, in bytes; a larger "
        "one fails the batch with `manifest_too_large` as soon as the limit is passed.",
    )
    max_record_bytes: int = Field(
        default=64 * 1024,
        ge=256,
        le=1024 * 1024,
        description="Longest record (a CSV row, quoted line breaks included, or a JSONL "
        "line), in characters; a longer one (an unterminated quote, say) fails the batch "
        "with `manifest_invalid` as soon as it is seen.",
    )
    source_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description="Longest a manifest may take to arrive whole (a host that sends a byte "
        "a minute does not hold a planning place forever); past it the read counts as a "
        "failure that may pass (`source_retry_delays_s`).",
    )
    source_retry_delays_s: list[float] = Field(
        default=[5.0, 30.0, 120.0],
        max_length=10,
        description="Waits before reading a source again after a failure that may pass (a "
        "host that does not resolve or answer, a TLS error, HTTP 5xx); once they are used "
        "up the batch fails with the last error. The batch holds no planning place while "
        "it waits, and a cancel ends the wait.",
    )
    checkpoint_every: int = Field(
        default=500,
        ge=1,
        description="Items the planner queues in one turn (one chunk of the items it read "
        "from the source) before it checkpoints and gives its place up; a restarted planner "
        "resumes at the last checkpoint (items after it are queued again and answered from "
        "their job records, never run twice).",
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
