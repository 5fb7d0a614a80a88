"""The groups of :class:`streams.config.settings.Settings`, one model per concern.

Each field is read from ``CUTSTREAM_<GROUP>__<FIELD>``; see streams/config/settings.py.
Groups hold plain values only: what a value means to the image core, the URL guard or the
notifier is built by the layer that owns it (``streams.imaging``, ``streams.net``…), so
loading the settings loads neither the model runtime nor Pillow.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
)

from schemas.webhooks import secret_key


class Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(Group):
    """How clients reach Kafka."""

    bootstrap_servers: str | None = Field(
        default=None,
        description="Comma-separated host:port list of an external Kafka cluster. "
        "Unset: the embedded broker on 127.0.0.1:`stack.kafka_port`, which `cutstream "
        "stack`/`up` start.",
    )
    client_id: str = Field(default="cutstream", description="Kafka client id prefix.")
    enable_idempotence: bool = Field(
        default=False,
        description="Idempotent producer. Off by default: the embedded broker (Tansu) "
        "answers InitProducerId with an error. Turn on for Apache Kafka.",
    )
    session_timeout_s: float = Field(
        default=10.0, gt=0, description="Consumer-group session timeout."
    )
    rebalance_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Consumer-group rebalance timeout. Faust's default (60 s) makes group "
        "joins on Tansu take ~30 s; 10 s joins in ~3 s.",
    )
    heartbeat_interval_s: float = Field(
        default=1.0, gt=0, description="Consumer-group heartbeat interval."
    )
    fetch_max_wait_ms: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="Longest a consumer's fetch waits at the broker for new records. The "
        "embedded broker (Tansu) answers a fetch only when this runs out, not when a record "
        "arrives, so it bounds the latency of every hop; on Apache Kafka, which answers as "
        "soon as records arrive, 500 saves fetch requests.",
    )
    idle_fetch_max_wait_ms: int = Field(
        default=250,
        ge=0,
        le=10_000,
        description="What a service's fetches wait once it has seen no record for "
        "`idle_after_s` (its first record switches it back to its own wait). Idle polling "
        "is what the embedded stack spends when there is no work: the worker and the "
        "ledger fetch every 50 and 10 ms when busy. The price is the first request after "
        "an idle spell, which waits up to this long more at each of those two hops. 0 "
        "keeps every service at its busy wait.",
    )
    idle_after_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a service sees no record before its fetches wait "
        "`idle_fetch_max_wait_ms`.",
    )
    backlog_fetch_max_wait_ms: int = Field(
        default=250,
        ge=0,
        le=10_000,
        description="What the worker's fetches wait while its interactive agent holds a "
        "full round of requests (`worker.concurrency`) taken and not yet started: a new "
        "request would wait behind them anyway, and on the embedded broker each fetch is a "
        "pass over every partition the worker reads (`make bench-e2e`'s burst: the broker "
        "spent 0.0053-0.0061 CPU-s per image at the busy wait, 0.0040-0.0046 with this; "
        "+1.5 % images/s). Batch items never slow it (an interactive request may come while "
        "a batch runs). Keep it under the time a round takes. 0 keeps the busy wait.",
    )
    max_message_bytes: int = Field(
        default=1_048_576,
        ge=65_536,
        description="Largest record cutstream produces (the producers' max request size; "
        "keep it at or under the brokers' `message.max.bytes`). Dead letters keep at most an "
        "eighth of it of the original record, so they always fit.",
    )


class S3Settings(Group):
    """How clients reach the S3-compatible object store, and which buckets hold what."""

    endpoint: str | None = Field(
        default=None,
        description="URL of an external S3 endpoint, e.g. `https://minio.internal:9000`. "
        "Unset: the embedded S3 server on http://127.0.0.1:`stack.s3_port`.",
    )
    access_key: str = Field(
        default="cutstream", min_length=3, description="S3 access key id (at least 3 characters)."
    )
    secret_key: SecretStr = Field(
        default=SecretStr("cutstream-dev-secret"),
        min_length=8,
        description="S3 secret key (at least 8 characters). Change it for anything but "
        "local development.",
    )
    public_endpoint: str | None = Field(
        default=None,
        description="Endpoint URL outsiders reach the store at, for presigned output URLs in "
        "webhooks and API answers (e.g. `https://files.example.com`). Unset: `s3.endpoint`.",
    )
    region: str = Field(
        default="us-east-1",
        description="S3 region requests are signed for. Always set (the minio client "
        "otherwise asks the server for each bucket's location first).",
    )
    input_bucket: str = Field(
        default="cutstream-inputs", description="Bucket for uploaded input images."
    )
    output_bucket: str = Field(default="cutstream-outputs", description="Bucket for cutouts.")
    jobs_bucket: str = Field(
        default="cutstream-jobs", description="Bucket for job records (one JSON per request)."
    )

    def buckets(self) -> tuple[str, ...]:
        return (self.input_bucket, self.output_bucket, self.jobs_bucket)


class UrlSettings(Group):
    """Outbound HTTP (URL inputs now, webhooks later) and the guard in front of it."""

    allow_http: bool = Field(
        default=False, description="Allow plain http:// URLs. For local development only."
    )
    allow_loopback: bool = Field(
        default=False,
        description="Allow URLs on loopback addresses (127.0.0.0/8, ::1). For tests and "
        "local development only; private, link-local and metadata addresses stay refused.",
    )
    fetch_timeout_s: float = Field(
        default=15.0, gt=0, description="Timeout of each step of fetching an input URL."
    )
    max_redirects: int = Field(
        default=3, ge=0, description="Redirects followed (each re-checked) for input URLs."
    )
    max_per_host: int = Field(
        default=4,
        ge=1,
        description="Input fetches one worker runs at once against one host (polite to "
        "image hosts during bulk imports).",
    )
    max_retry_after_s: float = Field(
        default=30.0,
        ge=0,
        description="A host answering 429 or 503 with a `Retry-After` up to this long is "
        "waited out and asked again (twice at most); a longer one, or none, becomes a "
        "retryable failure that goes through the retry topics.",
    )


DEV_WEBHOOK_SECRET = SecretStr("whsec_Y3V0c3RyZWFtLWRldi13ZWJob29rLXNlY3JldA==")


def _check_webhook_secrets(secrets_: list[SecretStr]) -> list[SecretStr]:
    for secret in secrets_:
        secret_key(secret.get_secret_value())
    return secrets_


class WebhookSettings(Group):
    """The webhook notifier: signing, timeouts, retries."""

    group_id: str = Field(
        default="cutstream-notifier", description="Consumer group of the notifier workers."
    )
    fetch_max_wait_ms: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="`kafka.fetch_max_wait_ms` of the notifier: a webhook may leave a few "
        "hundred milliseconds later, and each fetch of its ~20 partitions costs the "
        "embedded broker CPU whether or not there is work.",
    )
    secrets: list[SecretStr] = Field(
        default=[DEV_WEBHOOK_SECRET],
        description="Signing secrets (`whsec_…`, JSON list), used for accounts and endpoints "
        "without their own. Every listed secret signs each delivery, so list the new and the "
        "old one during a rotation. The default is a public development secret: set your own.",
    )
    account_secrets: dict[str, list[SecretStr]] = Field(
        default_factory=dict,
        description='Per-account signing secrets, as JSON: {"acme": ["whsec_…"]}.',
    )
    endpoint_secrets: dict[str, list[SecretStr]] = Field(
        default_factory=dict,
        description="Per-endpoint signing secrets by exact webhook URL (these win over the "
        "account's).",
    )
    timeout_s: float = Field(
        default=15.0, gt=0, description="Time a receiver has to answer a delivery."
    )
    retry_delays_s: list[float] = Field(
        default=[5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="Delay before each retry of a failed delivery (JSON list; like Svix: 5 s, "
        "5 min, 30 min, 2 h, 5 h, 10 h, 10 h). Attempts = entries + 1.",
    )
    max_retry_after_s: float = Field(
        default=36000.0,
        gt=0,
        description="Cap on a receiver's Retry-After (honoured on 429 and 503).",
    )
    concurrency: int = Field(
        default=16, ge=1, description="Deliveries in flight per notifier process."
    )
    web_port: int = Field(
        default=6070,
        ge=0,
        le=65535,
        description="Port of the notifier's /healthz and /metrics; 0 disables.",
    )

    @field_validator("secrets")
    @classmethod
    def _valid_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        return _check_webhook_secrets(value)

    @field_validator("account_secrets", "endpoint_secrets")
    @classmethod
    def _valid_secret_maps(cls, value: dict[str, list[SecretStr]]) -> dict[str, list[SecretStr]]:
        for secrets_ in value.values():
            _check_webhook_secrets(secrets_)
        return value

    def secrets_for(self, account: str, url: str) -> list[str]:
        """The secrets that sign a delivery: the endpoint's, else the account's, else the
        default ones."""
        chosen = self.endpoint_secrets.get(url) or self.account_secrets.get(account)
        return [secret.get_secret_value() for secret in chosen or self.secrets]


class GatewaySettings(Group):
    """The HTTP gateway (`cutstream gateway`)."""

    host: str = Field(default="127.0.0.1", description="Address the gateway listens on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port the gateway listens on.")
    sync_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="How long synchronous endpoints wait for the result before answering "
        "504 with the job id to poll.",
    )
    api_key_cache_s: float = Field(
        default=10.0,
        ge=0,
        description="How long a looked-up API key is trusted before it is read again (a "
        "revoked key stops working within this time).",
    )
    console: bool = Field(
        default=True,
        description="Serve the web console at `/` (try it on a photo, batches, account and "
        "API keys; docs/console.md). It uses the same API routes and keys as any client; "
        "off, `/` is a 404 and the API is unchanged.",
    )
    dev_api_key: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="An API key accepted for the account `default` without being stored. "
        "For local development and tests only.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (JSON list); empty: none."
    )


GRANT_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(?:[^/\x00-\x1f]+/)*$"


class AccessSettings(Group):
    """Which stored objects an account may name as its input, and where its outputs may go."""

    read_grants: dict[str, list[Annotated[str, StringConstraints(pattern=GRANT_PATTERN)]]] = Field(
        default_factory=dict,
        description="Objects an account may reference beyond its own uploads "
        "(`s3.input_bucket`/uploads/<account>/) and outputs (`s3.output_bucket`/<account>/), "
        'as JSON: {"catalog-sync": ["s3://catalog/", "s3://cutstream-inputs/shared/"]} — '
        "a bucket and a key prefix ending in `/`. Any other reference fails exactly as a "
        "missing object does (`input_not_found`).",
    )
    write_grants: dict[str, list[Annotated[str, StringConstraints(pattern=GRANT_PATTERN)]]] = Field(
        default_factory=dict,
        description="Where an account may have outputs written beyond its own prefix in "
        "the outputs bucket (`s3.output_bucket`/<account>/), same form as `read_grants`. "
        "Any other output location fails with `output_not_allowed`.",
    )


class LimitSettings(Group):
    """What an input image may be; larger or stranger inputs fail with a typed error."""

    max_input_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="Largest input in bytes (image_too_large)."
    )
    max_input_pixels: int = Field(
        default=50_000_000,
        ge=1,
        description="Most pixels (width x height) an input may have, checked from its "
        "header before decoding (resolution_too_high).",
    )
    animation: Literal["reject", "first_frame"] = Field(
        default="reject",
        description="Animated inputs: `reject` (animated_image_not_supported) or `first_frame`.",
    )


class WorkerSettings(Group):
    """The processor worker."""

    group_id: str = Field(
        default="cutstream-processors",
        description="Consumer group (Faust app id) shared by all processor workers.",
    )
    concurrency: int = Field(
        default=3,
        ge=1,
        description="Requests in flight per worker: one in the model, the others fetching, "
        "decoding, encoding and storing.",
    )
    max_in_flight_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1,
        description="Most decoded picture bytes held by requests in flight: each reserves "
        "width x height x 4, read from its header before it is decoded (a 7000x7000 PNG of "
        "6 KB reserves 196 MB). A larger single picture still runs, alone.",
    )
    backdrop_cache_bytes: int = Field(
        default=128 * 1024 * 1024,
        ge=0,
        description="Decoded background images (`bg_image`) kept per worker, in pixel bytes "
        "(width x height x 4), keyed by the SHA-256 of the image's bytes: a batch with one "
        "backdrop decodes it once. 0 keeps none.",
    )
    retry_delays_s: list[float] = Field(
        default=[2.0, 10.0, 30.0],
        min_length=0,
        description="Delay before each retry of a transient failure (JSON list); attempts "
        "= entries + 1, then the request fails and is dead-lettered.",
    )
    web_port: int = Field(
        default=6066,
        ge=0,
        le=65535,
        description="Port of the worker's /healthz and /metrics; 0 disables. `cutstream up` "
        "gives worker N the port + N.",
    )


class RuntimeSettings(Group):
    """How every cutstream process runs: logging, health pages, consuming from Kafka."""

    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info",
        description="Log level of the service processes (workers, notifier, gateway).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: one JSON object per line, with request_id, account and attempt "
        "fields where they apply.",
    )
    web_bind: str = Field(
        default="127.0.0.1",
        description="Address the workers' and notifier's /healthz and /metrics bind to.",
    )
    max_batch: int = Field(
        default=16,
        ge=1,
        description="Most messages a consumer (worker or notifier) takes from Kafka at once.",
    )
    batch_window_s: float = Field(
        default=0.05, gt=0, description="How long a batch waits to fill before it is processed."
    )
    shutdown_grace_s: float = Field(
        default=25.0,
        ge=0,
        description="On SIGTERM or rebalance, how long messages in flight may finish; what "
        "is still running then is handed back to the group unacknowledged.",
    )
    max_unacked_age_s: float = Field(
        default=300.0,
        gt=0,
        description="/healthz answers 503 `stalled` while a record has waited "
        "unacknowledged longer than this (for a delay tier: longer past its due time) — a "
        "handler stuck, or Kafka or the store unreachable for that long.",
    )


class OutputSettings(Group):
    """How results are handed out."""

    url_expiry_s: int = Field(
        default=86400,
        ge=60,
        le=7 * 86400,
        description="Validity of presigned output URLs in webhooks and API answers (S3 allows "
        "7 days). The remove-bg JSON shape keeps its documented 24 hours.",
    )
