"""Batches in the object store: the record, the tracker's progress, results chunks and the
results manifest.

Keys (:mod:`streams.storage.layout`): in the jobs bucket ``_batches/<account>/<batch_id>/``
holds ``batch.json`` (the :class:`BatchRecord`; changed only by conditional writes, as the
submitter, the planner and a cancel may all write it), ``items/<n>.jsonl`` (the items the
planner read from the source, ``batches.checkpoint_every`` a chunk: what the batch ran,
kept with it), ``progress.json`` (the tracker's counts and which items it
has seen; the tracker that owns the batch's partition is its only writer) and
``chunks/<n>.jsonl`` (result rows as they arrived, possibly repeated after a crash). The
results manifest (rows merged, each item once, in source order) is ``results.csv`` /
``results.jsonl`` beside the outputs' default prefix in the outputs bucket, where the
account can read it.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime

from pydantic import BaseModel, Field, ValidationError

from schemas.batches import BatchCounts, BatchRecord, BatchState, ResultRow, SourceItem
from schemas.errors import ErrorCode
from schemas.events import batch_request_id, utc_now
from streams.exceptions import BatchConflictError, ObjectNotFoundError, StorageUnavailableError
from streams.storage.base import ObjectStore
from streams.storage.layout import batch_prefix, batch_results_key, batches_prefix

RESULT_COLUMNS = (
    "index",
    "item_id",
    "input",
    "request_id",
    "status",
    "output_bucket",
    "output_key",
    "output_url",
    "content_type",
    "bytes",
    "width",
    "height",
    "foreground",
    "more_outputs",
    "error_code",
    "error_message",
    "credits",
)
"""Columns of the CSV results manifest (the JSONL one has the same fields)."""


class Progress(BaseModel):
    """The tracker's view of a batch: counts, and a bitmap of the items it has counted."""

    succeeded: int = 0
    failed: int = 0
    canceled: int = 0
    credits: int = 0
    bytes: int = 0
    chunks: int = Field(default=0, description="Result chunks written so far.")
    total: int | None = Field(
        default=None, description="The batch's total, once `batch.planned` has been seen."
    )
    seen: str = Field(default="", description="Items counted: a zlib'd little-endian bitmap.")
    first_at: datetime | None = None
    last_at: datetime | None = None

    def seen_bits(self) -> int:
        if not self.seen:
            return 0
        return int.from_bytes(zlib.decompress(base64.b64decode(self.seen)), "little")

    def with_bits(self, bits: int) -> Progress:
        raw = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
        return self.model_copy(update={"seen": base64.b64encode(zlib.compress(raw)).decode()})

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.canceled

    def counts(self, record: BatchRecord) -> BatchCounts:
        return BatchCounts(
            total=record.total,
            queued=record.queued,
            succeeded=self.succeeded,
            failed=self.failed,
            canceled=self.canceled + record.unqueued,
        )


class BatchStore:
    """Reads and writes batches (blocking store calls run in threads)."""

    def __init__(self, store: ObjectStore, jobs_bucket: str, output_bucket: str) -> None:
        self.store = store
        self.bucket = jobs_bucket
        self.output_bucket = output_bucket

    def _key(self, account: str, batch_id: str, name: str) -> str:
        return f"{batch_prefix(account, batch_id)}{name}"

    # The record ---------------------------------------------------------------------

    async def create(self, record: BatchRecord) -> bool:
        """Store a new batch unless its id is taken; whether it was created."""
        spec = record.spec
        return await asyncio.to_thread(
            self.store.put_if_absent,
            self.bucket,
            self._key(spec.account, spec.batch_id, "batch.json"),
            record.model_dump_json().encode(),
            "application/json",
        )

    async def get(self, account: str, batch_id: str) -> BatchRecord | None:
        found = await self._get_versioned(account, batch_id)
        return found[0] if found else None

    async def _get_versioned(self, account: str, batch_id: str) -> tuple[BatchRecord, str] | None:
        try:
            data, etag = await asyncio.to_thread(
                self.store.get_with_etag, self.bucket, self._key(account, batch_id, "batch.json")
            )
        except ObjectNotFoundError:
            return None
        try:
            return BatchRecord.model_validate_json(data), etag
        except ValidationError as exc:
            raise StorageUnavailableError(f"batch record {batch_id} is unreadable: {exc}") from exc

    async def update(
        self, account: str, batch_id: str, change: Callable[[BatchRecord], BatchRecord]
    ) -> BatchRecord:
        """Apply ``change`` to the stored record (read, change, write only if unchanged
        meanwhile; again if it was). :class:`BatchConflictError` if there is no record."""
        for _ in range(20):
            found = await self._get_versioned(account, batch_id)
            if found is None:
                raise BatchConflictError(f"there is no batch {batch_id}")
            record, etag = found
            changed = change(record)
            if changed == record:
                return record
            if await asyncio.to_thread(
                self.store.put_if_match,
                self.bucket,
                self._key(account, batch_id, "batch.json"),
                changed.model_dump_json().encode(),
                "application/json",
                etag,
            ):
                return changed
        raise StorageUnavailableError(f"batch {batch_id} kept changing; could not update it")

    async def list_ids(self, account: str) -> list[str]:
        """The account's batch ids."""
        prefix = batches_prefix(account)
        keys = await asyncio.to_thread(self.store.list_keys, self.bucket, prefix)
        return sorted(
            {key[len(prefix) :].split("/", 1)[0] for key in keys if key.endswith("/batch.json")}
        )

    async def mark_webhook_planned(self, account: str, batch_id: str) -> bool:
        """Record that the batch's webhook is planned; ``False`` if it already was."""
        return await asyncio.to_thread(
            self.store.put_if_absent,
            self.bucket,
            self._key(account, batch_id, "webhook-planned.json"),
            b"{}",
            "application/json",
        )

    # The items read from the source ----------------------------------------------------

    def put_items(self, account: str, batch_id: str, n: int, items: list[SourceItem]) -> None:
        """Keep chunk ``n`` of the items read from the source (blocking: the planner reads
        sources on a thread)."""
        body = "".join(item.model_dump_json(exclude_defaults=True) + "\n" for item in items)
        self.store.put(
            self.bucket,
            self._key(account, batch_id, f"items/{n:08d}.jsonl"),
            body.encode(),
            "application/x-ndjson",
        )

    async def items(self, account: str, batch_id: str, n: int) -> list[SourceItem]:
        """Chunk ``n`` of the items read from the source."""
        data = await asyncio.to_thread(
            self.store.get, self.bucket, self._key(account, batch_id, f"items/{n:08d}.jsonl")
        )
        return await asyncio.to_thread(
            lambda: [SourceItem.model_validate_json(line) for line in data.splitlines()]
        )

    def _unqueued_rows(self, record: BatchRecord) -> list[ResultRow]:
        """The ``canceled`` rows of the items a canceled batch never queued (from the
        chunks read from its source)."""
        spec = record.spec
        if not record.unqueued or record.total is None or record.items_per_chunk is None:
            return []
        rows = []
        size = record.items_per_chunk
        for n in range(record.queued // size, (record.total - 1) // size + 1):
            key = self._key(spec.account, spec.batch_id, f"items/{n:08d}.jsonl")
            for line in self.store.get(self.bucket, key).splitlines():
                item = SourceItem.model_validate_json(line)
                if item.index < record.queued:
                    continue
                rows.append(
                    ResultRow(
                        index=item.index,
                        item_id=item.item_id,
                        input=item.raw_input,
                        request_id=batch_request_id(spec.batch_id, item.index),
                        status="canceled",
                        error_code=ErrorCode.CANCELED,
                        error_message="the batch was canceled before this item was queued",
                    )
                )
        return rows

    # The tracker's progress ------------------------------------------------------------

    async def progress(self, account: str, batch_id: str) -> Progress:
        try:
            data = await asyncio.to_thread(
                self.store.get, self.bucket, self._key(account, batch_id, "progress.json")
            )
        except ObjectNotFoundError:
            return Progress()
        return Progress.model_validate_json(data)

    async def put_progress(self, account: str, batch_id: str, progress: Progress) -> None:
        await asyncio.to_thread(
            self.store.put,
            self.bucket,
            self._key(account, batch_id, "progress.json"),
            progress.model_dump_json().encode(),
            "application/json",
        )

    async def put_chunk(self, account: str, batch_id: str, n: int, rows: list[ResultRow]) -> None:
        body = "".join(row.model_dump_json() + "\n" for row in rows).encode()
        await asyncio.to_thread(
            self.store.put,
            self.bucket,
            self._key(account, batch_id, f"chunks/{n:08d}.jsonl"),
            body,
            "application/x-ndjson",
        )

    def _rows(self, account: str, batch_id: str) -> list[ResultRow]:
        """Every item's row once, in source order (a chunk written again after a crash
        repeats rows: the first of an index wins; an item has one outcome)."""
        rows: dict[int, ResultRow] = {}
        for key in self.store.iter_keys(self.bucket, self._key(account, batch_id, "chunks/")):
            for line in self.store.get(self.bucket, key).splitlines():
                row = ResultRow.model_validate_json(line)
                rows.setdefault(row.index, row)
        return [rows[index] for index in sorted(rows)]

    async def rows(self, account: str, batch_id: str) -> list[ResultRow]:
        return await asyncio.to_thread(self._rows, account, batch_id)

    async def final_rows(self, record: BatchRecord) -> list[ResultRow]:
        """Every item's row for the results manifest: the outcomes counted, then the
        ``canceled`` rows of the items a cancel kept from being queued."""
        spec = record.spec
        counted = await self.rows(spec.account, spec.batch_id)
        return counted + await asyncio.to_thread(self._unqueued_rows, record)

    # The results manifest ----------------------------------------------------------------

    def results_key(self, account: str, batch_id: str, extension: str) -> str:
        return batch_results_key(account, batch_id, extension)

    async def write_results(
        self, account: str, batch_id: str, rows: Iterable[ResultRow], url_of: UrlOf
    ) -> str:
        """Write the results manifest (CSV and JSONL); the CSV's key."""
        listed = list(rows)
        csv_key = self.results_key(account, batch_id, "csv")
        for extension, body, media in (
            ("csv", results_csv(listed, url_of), "text/csv"),
            ("jsonl", results_jsonl(listed, url_of), "application/x-ndjson"),
        ):
            await asyncio.to_thread(
                self.store.put,
                self.output_bucket,
                self.results_key(account, batch_id, extension),
                body,
                media,
            )
        return csv_key


UrlOf = Callable[[str, str], str]
"""(bucket, key) → a time-limited URL of the object."""


def _row_fields(row: ResultRow, url_of: UrlOf) -> dict[str, object]:
    fields = row.model_dump(mode="json")
    fields["output_url"] = (
        url_of(row.output_bucket, row.output_key)
        if row.output_bucket and row.output_key and row.status == "succeeded"
        else None
    )
    return fields


def results_jsonl(rows: Iterable[ResultRow], url_of: UrlOf) -> bytes:
    return "".join(json.dumps(_row_fields(row, url_of)) + "\n" for row in rows).encode()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A cell a spreadsheet shows as text: strings that would start a formula (``=``,
    ``+``, ``-``, ``@``, tab, carriage return — OWASP's list) get a leading ``'``. Numbers
    stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def results_csv(rows: Iterable[ResultRow], url_of: UrlOf) -> bytes:
    """The CSV results manifest. Text that comes from the source (ids, inputs, names,
    messages) cannot start a formula in a spreadsheet (:func:`spreadsheet_safe`); the
    JSONL manifest keeps every value as it is."""
    out = io.StringIO()
    writer = csv.DictWriter(out, RESULT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        fields = _row_fields(row, url_of)
        box = fields["foreground"]
        fields["foreground"] = " ".join(map(str, box)) if isinstance(box, list) else ""
        fields["more_outputs"] = " ".join(row.more_outputs)
        writer.writerow({k: "" if v is None else spreadsheet_safe(v) for k, v in fields.items()})
    return out.getvalue().encode()


def finished_now(record: BatchRecord) -> BatchRecord:
    """``record`` marked finished (completed unless it was canceled or failed), once."""
    if record.finished_at is not None:
        return record
    ended = (BatchState.CANCELED, BatchState.FAILED)
    state = record.state if record.state in ended else BatchState.COMPLETED
    return record.model_copy(update={"state": state, "finished_at": utc_now()})
