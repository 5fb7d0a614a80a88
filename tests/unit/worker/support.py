"""The processor on the in-memory store, and request messages, for the worker's tests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from processors import Remover
from schemas.events import ImageRequested
from streams.config.settings import S3Settings
from streams.net.fetch import Fetcher, FetchLimits
from streams.net.urlguard import UrlPolicy
from streams.storage.access import ReadAccess, WriteAccess
from streams.storage.batches import BatchStore
from streams.storage.jobs import JobStore
from streams.storage.memory import MemoryObjectStore
from streams.worker.budget import MemoryBudget
from streams.worker.handling import Inbound, Processor, RetryPolicy

S3_BUCKETS = S3Settings(input_bucket="uploads-bucket", output_bucket="outputs", jobs_bucket="jobs")


def make_store(store: MemoryObjectStore | None = None) -> MemoryObjectStore:
    store = store or MemoryObjectStore()
    for bucket in ("inputs", "uploads-bucket", "outputs", "jobs", "catalog"):
        store.ensure_bucket(bucket)
    return store


def make_processor(
    store: MemoryObjectStore, remover: Remover, executor: ThreadPoolExecutor, **policy: Any
) -> Processor:
    return Processor(
        store=store,
        jobs_store=JobStore(store, "jobs"),
        remover=remover,
        fetcher=Fetcher(UrlPolicy(**policy), FetchLimits(timeout_s=5)),
        access=ReadAccess(S3_BUCKETS, {"acme": ["s3://inputs/"]}),
        writes=WriteAccess(S3_BUCKETS, {"acme": ["s3://catalog/acme/"]}),
        batches=BatchStore(store, "jobs", "outputs"),
        output_bucket="outputs",
        retry=RetryPolicy((0.5, 1.0)),
        executor=executor,
        worker="test:1",
        max_message_bytes=1_048_576,
        budget=MemoryBudget(256 * 1024 * 1024),
        backdrop_cache_bytes=64 * 1024 * 1024,
    )


def message(payload: dict[str, Any] | None = None, attempt: int = 0, **fields: Any) -> Inbound:
    event = {
        "request_id": "req-1",
        "account": "acme",
        "trace_id": "t",
        "payload": payload or {"input": {"bucket": "inputs", "key": "cat.jpg"}},
        **fields,
    }
    value = ImageRequested.model_validate(event).model_dump_json().encode()
    return Inbound(value=value, topic="requests", partition=3, offset=42, attempt=attempt)
