"""Batches: a manifest or a bucket prefix in, one request per item, a results manifest out.

A batch is submitted once (``batch.submitted`` on ``topics.batches``); the planner streams
its source into the bulk lane, one ``image.requested`` per item with a deterministic
request id (:func:`schemas.events.batch_request_id`); workers report each item's outcome
as ``batch.item`` on ``topics.batch_progress`` (keyed by batch id, so one tracker owns a
batch); the planner ends its source with ``batch.planned``; the tracker counts, writes the
results manifest and announces ``batch.completed``.
"""

from __future__ import annotations

import string
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from schemas.errors import SOURCE_CODES, ErrorCode
from schemas.events import AccountId, BatchId, utc_now
from schemas.options import RemovalOptions
from schemas.refs import BucketName, FrozenModel, InputRef, WebUrl, checked_key
from schemas.renditions import MAX_RENDITIONS, Rendition, check_renditions, dumped

SCHEMA_VERSION = 1


def _template_checked(template: str) -> str:
    fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    if not fields:
        raise ValueError("a name template names at least one field, e.g. {id}.{ext}")
    for name in fields:
        if not name.isidentifier():
            raise ValueError(f"{{{name}}} is not a field name (letters, digits, _)")
    if template.startswith("/") or ".." in template.split("/"):
        raise ValueError("a name template is relative and has no '..' segment")
    return template


def _prefix_checked(prefix: str | None) -> str | None:
    if prefix:
        checked_key(prefix + "x")  # a key under it must be a plain path
    return prefix


NameTemplate = Annotated[
    str,
    StringConstraints(min_length=1, max_length=512),
    AfterValidator(_template_checked),
    Field(
        description="Object name of each output under the output prefix: `{id}` (the item's "
        "id), `{index}`, `{stem}` (the input's file name without its extension), `{ext}` "
        "(the output format's extension), `{batch_id}` and any manifest column (`{sku}`).",
        examples=["{id}.{ext}", "{sku}/{stem}.webp"],
    ),
]


class ManifestSource(FrozenModel):
    """A CSV or JSONL file listing the items (one per row or line)."""

    kind: Literal["manifest"] = "manifest"
    manifest: InputRef = Field(description="Where the manifest is: an S3 object or a URL.")
    format: Literal["csv", "jsonl"] | None = Field(
        default=None,
        description="`csv` (a header row) or `jsonl`; by default from the name's extension "
        "(`.csv`, `.jsonl`, `.ndjson`), else from the first character (`{` is JSONL).",
    )
    input_column: str | None = Field(
        default=None,
        description="CSV column (JSONL field) with each item's input: an https URL, an "
        "`s3://bucket/key` or a key in the inputs bucket. Default: the first of "
        "`image_url`, `url`, `input`, `s3_key`, `key`, `image` present.",
    )
    id_column: str | None = Field(
        default=None,
        description="Column with each item's id (used in names and the results). Default: "
        "`id` or `sku` when present, else the item's position.",
    )


class PrefixSource(FrozenModel):
    """Every image (`.jpg`, `.jpeg`, `.png`, `.webp`) under a bucket prefix."""

    kind: Literal["prefix"] = "prefix"
    bucket: BucketName
    prefix: str = Field(default="", max_length=1024, description="Key prefix ('' = all).")


BatchSource = Annotated[ManifestSource | PrefixSource, Field(discriminator="kind")]

INPUT_COLUMNS = ("image_url", "url", "input", "s3_key", "key", "image")
"""Where a CSV item's input is looked for, in this order, unless the source names a column."""


class SourceItem(FrozenModel):
    """One item as read from a batch's source, or why its row cannot be one (``error``).
    The planner reads the source once into these (kept beside the batch record until every
    item is queued), so a resumed planner never reads the source again."""

    index: int = Field(ge=0)
    item_id: str
    raw_input: str = Field(description="The item's input as the source gave it.")
    input: InputRef | None = None
    options: RemovalOptions | None = None
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Values the name template may use (the row's columns, `stem`…).",
    )
    error: str | None = None


class BatchOutput(FrozenModel):
    """Where a batch's outputs go."""

    bucket: BucketName | None = Field(
        default=None, description="Bucket of the outputs (default: `s3.output_bucket`)."
    )
    prefix: Annotated[str | None, AfterValidator(_prefix_checked)] = Field(
        default=None,
        max_length=512,
        description="Key prefix of the outputs, ending in `/` (default: "
        "`<account>/batches/<batch_id>/`, next to the results manifest): a plain path (no "
        "leading `/`, no `.`, `..` or empty segment). It must be one the account may write "
        "(`access.write_grants`).",
    )
    name_template: NameTemplate = "{id}.{ext}"


class _BatchWork(FrozenModel):
    """What a batch does: shared by its spec and the API body that asks for it."""

    source: BatchSource
    options: RemovalOptions = Field(
        default_factory=RemovalOptions,
        description="Options of every item; a manifest may override them per item.",
    )
    output: BatchOutput = Field(default_factory=BatchOutput)
    outputs: list[Rendition] = Field(
        default_factory=list,
        max_length=MAX_RENDITIONS,
        description="Renditions of every item (docs/api.md#renditions). The first goes where "
        "the name template says unless it names a key; a key may use `{stem}`, `{ext}`, "
        "`{batch_id}`, `{item_id}`, `{item_index}`, `{index}`, `{size}`, `{account}`, "
        "`{request_id}`; renditions without one go beside the first.",
    )
    webhook_url: WebUrl | None = Field(
        default=None, description="Where to POST the signed `batch.completed` notification."
    )

    @model_validator(mode="after")
    def _renditions_valid(self) -> _BatchWork:
        check_renditions(self.options, self.outputs)
        return self


class BatchSpec(_BatchWork):
    """What a batch is: fixed at submission."""

    batch_id: BatchId
    account: AccountId = "default"

    def same_batch_as(self, other: BatchSpec) -> bool:
        """Whether ``other`` is this batch submitted again (a resubmission resumes it)."""
        return (self.source, self.options, self.output, dumped(self.outputs)) == (
            other.source,
            other.options,
            other.output,
            dumped(other.outputs),
        )


class BatchState(StrEnum):
    PLANNING = "planning"
    """Items are being read from the source and queued (some may already be done)."""
    RUNNING = "running"
    """Every item is queued; some have no outcome yet."""
    COMPLETED = "completed"
    """Every item has an outcome (succeeded or failed); the results manifest is written."""
    CANCELED = "canceled"
    """Canceled: items that had not run are `canceled`; once all have an outcome, the
    results manifest is written (and `finished_at` set)."""
    FAILED = "failed"
    """The source could not be read (`source_error` says why; nothing was queued): the
    results manifest is empty and `batch.completed` says `failed`."""


def _source_code(code: ErrorCode) -> ErrorCode:
    if code not in SOURCE_CODES:
        raise ValueError(f"{code} is not a source error's code")
    return code


SourceCode = Annotated[
    ErrorCode,
    AfterValidator(_source_code),
    WithJsonSchema({"type": "string", "enum": sorted(SOURCE_CODES)}),
]


class SourceError(FrozenModel):
    """Why a batch's source could not be read."""

    code: SourceCode
    message: str


class BatchRecord(FrozenModel):
    """The batch as stored (`<jobs bucket>/_batches/<account>/<batch_id>/batch.json`)."""

    schema_version: int = SCHEMA_VERSION
    spec: BatchSpec
    state: BatchState = BatchState.PLANNING
    queued: int = Field(default=0, ge=0, description="Items queued so far (a checkpoint).")
    total: int | None = Field(
        default=None, ge=0, description="Items in the source, once it has been read to the end."
    )
    truncated: bool = Field(
        default=False, description="The source had more than `batches.max_items` items."
    )
    items_per_chunk: int | None = Field(
        default=None,
        ge=1,
        description="How many of the items read from the source each stored chunk holds "
        "(set with `total`).",
    )
    source_error: SourceError | None = Field(
        default=None, description="Why the source could not be read (the batch failed)."
    )
    source_attempts: int = Field(
        default=0, ge=0, description="Reads of the source that failed in a way that may pass."
    )
    unqueued: int = Field(
        default=0,
        ge=0,
        description="Items never queued because the batch was canceled first (they count "
        "as canceled and have `canceled` rows).",
    )
    created_at: datetime = Field(default_factory=utc_now)
    planned_at: datetime | None = None
    canceled_at: datetime | None = None
    finished_at: datetime | None = None


ItemStatus = Literal["succeeded", "failed", "canceled"]


class ResultRow(FrozenModel):
    """One item's line in the results manifest."""

    index: int = Field(ge=0)
    item_id: str
    input: str = Field(description="The item's input as the source gave it.")
    request_id: str
    status: ItemStatus
    output_bucket: str | None = None
    output_key: str | None = None
    content_type: str | None = None
    bytes: int | None = None
    width: int | None = None
    height: int | None = None
    foreground: tuple[int, int, int, int] | None = Field(
        default=None, description="The subject's box in output pixels: left, top, width, height."
    )
    more_outputs: list[str] = Field(
        default_factory=list,
        description="The item's other renditions (`outputs` beyond the first), as "
        "`s3://bucket/key`; space-separated in the CSV.",
    )
    error_code: ErrorCode | None = Field(
        default=None,
        description="A failure code, or the ledger's refusal for a metered item "
        "(`insufficient_credits`, `quota_exceeded`, `account_suspended`, "
        "`subscription_expired`).",
    )
    error_message: str | None = None
    credits: int = 0


class BatchCounts(FrozenModel):
    """How far a batch is."""

    total: int | None = Field(description="Items in the source; null while it is being read.")
    queued: int
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.canceled


class _BatchEvent(FrozenModel):
    """Fields every batch event has."""

    schema_version: int = SCHEMA_VERSION
    batch_id: BatchId
    account: AccountId


class BatchSubmitted(_BatchEvent):
    """Plan this batch (topic ``topics.batches``, keyed by batch id)."""

    type: Literal["batch.submitted"] = "batch.submitted"


class BatchItemDone(_BatchEvent):
    """One item's outcome (topic ``topics.batch_progress``, keyed by batch id)."""

    type: Literal["batch.item"] = "batch.item"
    row: ResultRow


class BatchPlanned(_BatchEvent):
    """The planner has read the whole source (topic ``topics.batch_progress``)."""

    type: Literal["batch.planned"] = "batch.planned"
    total: int = Field(ge=0)


BatchProgressEvent = Annotated[BatchItemDone | BatchPlanned, Field(discriminator="type")]


class BatchCompleted(_BatchEvent):
    """Every item has an outcome (topic ``topics.batch_completed``, and the batch's
    webhook)."""

    type: Literal["batch.completed"] = "batch.completed"
    event_id: str = Field(description="Deterministic: the same batch always gives the same id.")
    state: BatchState
    counts: BatchCounts
    results_url: str = Field(description="Time-limited URL of the results manifest (CSV).")
    results_key: str = Field(description="Key of the results manifest in the outputs bucket.")
    created_at: datetime = Field(default_factory=utc_now)


class BatchView(FrozenModel):
    """A batch as the API and the CLI show it."""

    batch_id: BatchId
    account: AccountId
    state: BatchState
    source: BatchSource
    output: BatchOutput
    counts: BatchCounts
    rate_per_s: float | None = Field(
        description="Items finished per second so far (null until two have finished)."
    )
    eta_s: float | None = Field(
        description="Seconds until every item has an outcome at that rate (null while the "
        "total is unknown or no rate has been seen)."
    )
    credits: int = Field(description="Credits charged for the batch's items so far.")
    bytes: int = Field(description="Bytes of the outputs written so far.")
    truncated: bool
    source_error: SourceError | None
    created_at: datetime
    planned_at: datetime | None
    finished_at: datetime | None
    results_url: str | None = Field(
        description="Time-limited URL of the results manifest (CSV), once finished; "
        "`GET /v1/batches/{id}/results` gives it (or the rows so far) at any time."
    )


class BatchCreate(_BatchWork):
    """Body of ``POST /v1/batches`` (JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: BatchId | None = Field(
        default=None,
        description="Your id for the batch (resubmitting it resumes it); default: a generated one.",
    )
