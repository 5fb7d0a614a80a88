"""Prometheus metrics of cutstream's processes (served at ``/metrics`` on each one's web port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "cutstream_requests_total",
    "Requests finished by this worker, by outcome and error code.",
    ["outcome", "code"],
)
PROCESSING_SECONDS = Histogram(
    "cutstream_processing_seconds",
    "Time from taking a request to storing its output (successful attempts).",
    buckets=(0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60),
)
MODEL_SECONDS = Histogram(
    "cutstream_model_seconds",
    "Time the segmentation model ran per image (not counting the wait for its slot).",
    buckets=(0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5),
)
BATCH_SIZE = Histogram(
    "cutstream_batch_size",
    "Requests taken from Kafka per batch.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
RETRIES = Counter("cutstream_retries_total", "Requests sent to a retry topic, by tier.", ["tier"])
DEAD_LETTERS = Counter(
    "cutstream_dead_letters_total", "Messages sent to the dead-letter topic, by reason.", ["reason"]
)
REPUBLISHED = Counter(
    "cutstream_republished_total",
    "Redelivered requests answered from their finished job record, without recomputing.",
)
IN_FLIGHT = Gauge(
    "cutstream_in_flight_requests",
    "Messages being handled right now: requests in a worker, deliveries in a notifier.",
)
OLDEST_UNACKED = Gauge(
    "cutstream_oldest_unacked_seconds",
    "How long the oldest record this process has not acknowledged yet has waited.",
)
IN_FLIGHT_BYTES = Gauge(
    "cutstream_in_flight_bytes",
    "Decoded picture bytes reserved by requests in flight (worker.max_in_flight_bytes).",
)
WEBHOOK_ATTEMPTS = Counter(
    "cutstream_webhook_attempts_total",
    "Webhook delivery attempts, by what followed: delivered, retry, disable, exhausted, refused.",
    ["outcome"],
)

BATCH_ITEMS = Counter(
    "cutstream_batch_items_total",
    "Batch items the tracker has counted (each once), by status.",
    ["status"],
)

PLANNING_PLACES = Gauge(
    "cutstream_planning_places_busy",
    "Planning places of the batch service in use (batches.plan_at_once in all).",
)
BATCHES_PLANNING = Gauge(
    "cutstream_batches_planning",
    "Batches this batch service is planning: working, waiting for a place, for room on the "
    "bulk lane (batches.max_outstanding_per_account) or to read their source again.",
)


def gauge_value(gauge: Gauge) -> float:
    """A gauge's current value, read through the public ``collect()`` API."""
    return next(iter(gauge.collect())).samples[0].value
