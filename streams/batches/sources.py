"""A batch's items, read from its source: a CSV or JSONL manifest (an S3 object or an
https URL) or every image under a bucket prefix.

A manifest is first copied into a spool file, byte-capped as it arrives
(``batches.max_manifest_bytes``) and time-limited (``batches.source_timeout_s``); then it
is parsed off the event loop, in one linear pass whose records are capped
(``batches.max_record_bytes``: an unterminated quote fails the source at once instead of
swallowing the rest of the file). Prefixes are listed a page of keys at a time. A row that
cannot be an item (no input, an unreadable input, options that do not validate) is an item
too, with its error, so it appears in the results as ``invalid_request``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

from pydantic import ValidationError

from schemas.batches import INPUT_COLUMNS, BatchSpec, ManifestSource, PrefixSource, SourceItem
from schemas.options import RemovalOptions
from schemas.presets import with_preset
from schemas.refs import S3Object, UrlInput
from streams.batches.exceptions import ManifestTooLargeError, SourceError
from streams.net.fetch import Fetcher, InputFetchError
from streams.storage.base import ObjectStore
from streams.storage.layout import IMAGE_SUFFIXES

ID_COLUMNS = ("id", "sku")
OPTION_FIELDS = frozenset(RemovalOptions.model_fields)


@dataclass(frozen=True)
class SourceLimits:
    """How much of a source is read (``batches`` settings)."""

    max_manifest_bytes: int
    max_record_bytes: int
    timeout_s: float


def parse_input(value: str, input_bucket: str) -> S3Object | UrlInput:
    """An item's input: ``https://…`` (or ``http://``), ``s3://bucket/key``, or a key in the
    inputs bucket. :class:`ValueError` (pydantic's) if it is none of them."""
    value = value.strip()
    if value.startswith(("https://", "http://")):
        return UrlInput.model_validate({"url": value})
    if value.startswith("s3://"):
        bucket, _, key = value.removeprefix("s3://").partition("/")
        return S3Object.model_validate({"bucket": bucket, "key": key})
    return S3Object.model_validate({"bucket": input_bucket, "key": value})


def _stem(value: str) -> str:
    return PurePosixPath(value.split("?", 1)[0].rstrip("/")).stem or "image"


def _first_error(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())


class Items:
    """Builds :class:`SourceItem` values from rows, with the batch's base options."""

    def __init__(self, spec: BatchSpec, input_bucket: str) -> None:
        self.spec = spec
        self.input_bucket = input_bucket
        self.base = spec.options.model_dump(mode="json", exclude_defaults=True)

    def item(
        self, index: int, row: dict[str, Any], input_key: str, id_key: str | None
    ) -> SourceItem:
        raw = row.get(input_key)
        raw_input = raw if isinstance(raw, str) else json.dumps(raw) if raw is not None else ""
        item_id = str(row.get(id_key) or "") if id_key else ""
        item_id = item_id or str(index)
        fields = {k: str(v) for k, v in row.items() if isinstance(v, str | int | float)}
        fields["stem"] = _stem(str(raw.get("key", "")) if isinstance(raw, dict) else raw_input)

        def failed(error: str) -> SourceItem:
            return SourceItem(index=index, item_id=item_id, raw_input=raw_input, error=error)

        try:
            source = (
                S3Object.model_validate(raw)
                if isinstance(raw, dict)
                else parse_input(raw_input, self.input_bucket)
            )
        except ValidationError as exc:
            return failed(f"bad input {raw_input[:200]!r}: {_first_error(exc)}")
        overrides = row.get("options")
        given = {k: v for k, v in row.items() if k in OPTION_FIELDS and v not in ("", None)}
        given |= overrides if isinstance(overrides, dict) else {}
        try:  # a row's preset counts as its options, over the batch's
            options = RemovalOptions.model_validate({**self.base, **with_preset(given)})
        except ValidationError as exc:
            return failed(f"bad options: {_first_error(exc)}")
        return SourceItem(
            index=index,
            item_id=item_id,
            raw_input=raw_input,
            input=source,
            options=options,
            fields=fields,
        )


def _lines(text: IO[str], max_chars: int) -> Iterator[str]:
    """The lines of ``text``, none longer than ``max_chars`` (one never buffered whole)."""
    number = 0
    while line := text.readline(max_chars + 1):
        number += 1
        if len(line) > max_chars:
            raise SourceError(f"line {number} is longer than {max_chars:,} characters")
        yield line


class _RecordLines:
    """Lines for :mod:`csv`, failing once one record (quoted line breaks included) passes
    ``max_chars`` — an unterminated quote would otherwise swallow the rest of the file."""

    def __init__(self, lines: Iterator[str], max_chars: int) -> None:
        self.lines = lines
        self.max_chars = max_chars
        self.size = 0
        self.first_line = 1
        self.read = 0

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.read += 1
        self.size += len(line)
        if self.size > self.max_chars:
            raise SourceError(
                f"the record starting at line {self.first_line} is longer than "
                f"{self.max_chars:,} characters (an unterminated quote?)"
            )
        return line

    def record_done(self) -> None:
        self.size = 0
        self.first_line = self.read + 1


def csv_records(text: IO[str], max_chars: int) -> Iterator[list[str]]:
    """CSV records (RFC 4180: quoted fields may hold line breaks and doubled quotes), in one
    linear pass; blank lines are skipped."""
    lines = _RecordLines(_lines(text, max_chars), max_chars)
    if csv.field_size_limit() < max_chars:
        csv.field_size_limit(max_chars)
    reader = csv.reader(lines, strict=True)
    try:
        for record in reader:
            lines.record_done()
            if record:
                yield record
    except csv.Error as exc:
        raise SourceError(f"line {reader.line_num}: {exc}") from None


def manifest_items(
    spec: BatchSpec, text: IO[str], fmt: str, input_bucket: str, max_record_chars: int
) -> Iterator[SourceItem]:
    """The items of a CSV or JSONL manifest, in order."""
    source = spec.source
    assert isinstance(source, ManifestSource)
    items = Items(spec, input_bucket)
    if fmt == "jsonl":
        index = 0
        for line in _lines(text, max_record_chars):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("a line is a JSON object")
            except (ValueError, RecursionError) as exc:
                yield SourceItem(
                    index=index,
                    item_id=str(index),
                    raw_input=line[:200],
                    error=f"not a JSON object: {str(exc)[:200]}",
                )
            else:
                input_key = source.input_column or _first(INPUT_COLUMNS, row)
                id_key = source.id_column or _first(ID_COLUMNS, row)
                yield items.item(index, row, input_key or "input", id_key)
            index += 1
        return
    records = csv_records(text, max_record_chars)
    header = next(records, None)
    if header is None:
        return
    header = [name.strip() for name in header]
    input_key = source.input_column or _first(INPUT_COLUMNS, header)
    if input_key is None or input_key not in header:
        wanted = source.input_column or " / ".join(INPUT_COLUMNS)
        shown = ", ".join(name[:40] for name in header[:20])
        raise SourceError(f"the CSV has no input column ({wanted}); its columns: {shown}")
    id_key = source.id_column or _first(ID_COLUMNS, header)
    for index, record in enumerate(records):
        yield items.item(index, dict(zip(header, record, strict=False)), input_key, id_key)


def _first(names: tuple[str, ...], present: Any) -> str | None:
    return next((name for name in names if name in present), None)


def manifest_format(source: ManifestSource, head: str) -> str:
    """``csv`` or ``jsonl``: as the source says, else by the name, else by the content."""
    if source.format is not None:
        return source.format
    where = source.manifest
    name = str(where.url) if isinstance(where, UrlInput) else where.key
    suffix = PurePosixPath(name.split("?", 1)[0]).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    return "jsonl" if head.lstrip("\ufeff \t\r\n").startswith("{") else "csv"


async def spool_manifest(
    source: ManifestSource,
    store: ObjectStore,
    fetcher: Fetcher,
    spool: IO[bytes],
    limits: SourceLimits,
) -> None:
    """Copy the manifest into ``spool``: :class:`ManifestTooLargeError` as soon as it passes
    ``limits.max_manifest_bytes``; a read that does not end within ``limits.timeout_s`` is
    an :class:`~streams.net.fetch.InputFetchError` (retryable)."""
    where = source.manifest
    cap = limits.max_manifest_bytes

    def written(size: int, chunk: bytes) -> int:
        size += len(chunk)
        if size > cap:
            raise ManifestTooLargeError(f"the manifest is larger than {cap:,} bytes")
        spool.write(chunk)
        return size

    def copy_object(bucket: str, key: str) -> None:
        size = 0
        for chunk in store.stream(bucket, key):
            size = written(size, chunk)

    try:
        async with asyncio.timeout(limits.timeout_s):
            if isinstance(where, S3Object):
                await asyncio.to_thread(copy_object, where.bucket, where.key)
            else:
                size = 0
                async for chunk in fetcher.chunks(str(where.url)):
                    size = written(size, chunk)
    except TimeoutError:
        raise InputFetchError(
            f"the manifest was not read within {limits.timeout_s:.0f} s", retryable=True
        ) from None
    spool.flush()
    spool.seek(0)


def spooled_items(
    spec: BatchSpec, spool: IO[bytes], input_bucket: str, limits: SourceLimits
) -> Iterator[SourceItem]:
    """The items of a spooled manifest (blocking: run it off the event loop)."""
    source = spec.source
    assert isinstance(source, ManifestSource)
    text = io.TextIOWrapper(spool, encoding="utf-8-sig", errors="replace", newline="")
    head = text.read(1024)
    text.seek(0)
    fmt = manifest_format(source, head)
    yield from manifest_items(spec, text, fmt, input_bucket, limits.max_record_bytes)


def prefix_items(spec: BatchSpec, source: PrefixSource, store: ObjectStore) -> Iterator[SourceItem]:
    """Every image under the prefix, in key order (blocking: the store is listed a page at
    a time); ``{id}`` is the key below the prefix without its extension (``shoes/red.jpg``
    → ``shoes/red``), so names mirror the tree."""
    index = 0
    for key in store.iter_keys(source.bucket, source.prefix):
        path = PurePosixPath(key)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        relative = str(PurePosixPath(key[len(source.prefix) :]).with_suffix(""))
        yield SourceItem(
            index=index,
            item_id=relative,
            raw_input=f"s3://{source.bucket}/{key}",
            input=S3Object(bucket=source.bucket, key=key),
            options=spec.options,
            fields={"stem": path.stem, "key": key},
        )
        index += 1
