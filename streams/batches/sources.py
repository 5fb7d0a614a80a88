"""A batch's items, read from its source as a stream: a CSV or JSONL manifest (an S3
object or an https URL) or every image under a bucket prefix.

Nothing is read whole: S3 objects arrive in chunks, URLs line by line, prefixes a page of
keys at a time, and items are yielded as soon as they are parsed. A row that cannot be an
item (no input, an unreadable input, options that do not validate, a name that cannot be
built) is yielded too, with its error, so it appears in the results as `invalid_request`.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, TypeVar

from pydantic import ValidationError

from schemas.batches import BatchSpec, ManifestSource, PrefixSource
from schemas.options import RemovalOptions
from schemas.refs import S3Object, UrlInput
from streams.net.fetch import Fetcher
from streams.storage.base import ObjectStore
from streams.storage.layout import IMAGE_SUFFIXES

INPUT_COLUMNS = ("image_url", "url", "input", "s3_key", "key", "image")
"""Where an item's input is looked for, in this order, unless the source names a column."""
ID_COLUMNS = ("id", "sku")
OPTION_FIELDS = frozenset(RemovalOptions.model_fields)

T = TypeVar("T")


class SourceError(Exception):
    """The source cannot be read as a manifest at all (no input column, not JSON…)."""


@dataclass(frozen=True)
class SourceItem:
    """One item of a batch, or why a row cannot be one (``error``)."""

    index: int
    item_id: str
    raw_input: str
    input: S3Object | UrlInput | None = None
    options: RemovalOptions | None = None
    fields: dict[str, str] = field(default_factory=dict)
    """Values the name template may use (the row's columns, ``stem``…)."""
    error: str | None = None


async def _pulled(blocking: Iterator[T]) -> AsyncIterator[T]:
    """A blocking iterator (S3 chunks, pages of keys), pulled on a thread item by item."""
    done = _Done()
    while not isinstance(value := await asyncio.to_thread(next, blocking, done), _Done):
        yield value


class _Done:
    """The end of a pulled iterator."""


async def text_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """UTF-8 text lines (a byte-order mark dropped, line ends stripped) from chunks."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    rest = ""
    async for chunk in chunks:
        text = rest + decoder.decode(chunk)
        *lines, rest = text.split("\n")
        for line in lines:
            yield line.removesuffix("\r")
    rest += decoder.decode(b"", final=True)
    if rest:
        yield rest.removesuffix("\r")


async def csv_records(lines: AsyncIterator[str]) -> AsyncIterator[list[str]]:
    """CSV records from physical lines: a quoted field may span lines (a record is whole
    once its quotes balance — RFC 4180 doubles quotes inside fields)."""
    pending: list[str] = []
    async for line in lines:
        pending.append(line)
        text = "\n".join(pending)
        if text.count('"') % 2:
            continue
        pending = []
        if text.strip():
            yield next(csv.reader([text]))
    if pending:
        raise SourceError("the manifest ends inside a quoted field")


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
        try:
            source = (
                S3Object.model_validate(raw)
                if isinstance(raw, dict)
                else parse_input(raw_input, self.input_bucket)
            )
        except ValidationError as exc:
            return SourceItem(index, item_id, raw_input, error=f"bad input {raw_input!r}: {exc}")
        overrides = row.get("options")
        flat = {k: v for k, v in row.items() if k in OPTION_FIELDS and v not in ("", None)}
        try:
            options = RemovalOptions.model_validate(
                {**self.base, **flat, **(overrides if isinstance(overrides, dict) else {})}
            )
        except ValidationError as exc:
            errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return SourceItem(index, item_id, raw_input, error=f"bad options: {errors}")
        return SourceItem(index, item_id, raw_input, source, options, fields)


async def manifest_items(
    spec: BatchSpec, lines: AsyncIterator[str], fmt: str, input_bucket: str
) -> AsyncIterator[SourceItem]:
    """The items of a CSV or JSONL manifest, in order."""
    source = spec.source
    assert isinstance(source, ManifestSource)
    items = Items(spec, input_bucket)
    if fmt == "jsonl":
        index = 0
        async for line in lines:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("a line is a JSON object")
            except ValueError as exc:
                yield SourceItem(index, str(index), line[:200], error=f"not a JSON object: {exc}")
            else:
                input_key = source.input_column or _first(INPUT_COLUMNS, row)
                id_key = source.id_column or _first(ID_COLUMNS, row)
                yield items.item(index, row, input_key or "input", id_key)
            index += 1
        return
    records = csv_records(lines)
    header = await anext(records, None)
    if header is None:
        return
    header = [name.strip() for name in header]
    input_key = source.input_column or _first(INPUT_COLUMNS, header)
    if input_key is None or input_key not in header:
        wanted = source.input_column or " / ".join(INPUT_COLUMNS)
        raise SourceError(f"the CSV has no input column ({wanted}); its columns: {header}")
    id_key = source.id_column or _first(ID_COLUMNS, header)
    index = 0
    async for record in records:
        yield items.item(index, dict(zip(header, record, strict=False)), input_key, id_key)
        index += 1


def _first(names: tuple[str, ...], present: Any) -> str | None:
    return next((name for name in names if name in present), None)


def manifest_format(source: ManifestSource, first_line: str) -> str:
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
    return "jsonl" if first_line.lstrip().startswith("{") else "csv"


async def _peeked(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    yield first
    async for line in rest:
        yield line


async def source_items(
    spec: BatchSpec, store: ObjectStore, fetcher: Fetcher, input_bucket: str
) -> AsyncIterator[SourceItem]:
    """Every item of ``spec``'s source, in order (index 0, 1, …)."""
    source = spec.source
    if isinstance(source, PrefixSource):
        async for item in prefix_items(spec, source, store):
            yield item
        return
    where = source.manifest
    lines = (
        fetcher.lines(str(where.url))
        if isinstance(where, UrlInput)
        else text_lines(_pulled(store.stream(where.bucket, where.key)))
    )
    first = await anext(lines, None)
    if first is None:
        return
    fmt = manifest_format(source, first)
    async for item in manifest_items(spec, _peeked(first, lines), fmt, input_bucket):
        yield item


async def prefix_items(
    spec: BatchSpec, source: PrefixSource, store: ObjectStore
) -> AsyncIterator[SourceItem]:
    """Every image under the prefix, in key order; ``{id}`` is the key below the prefix
    without its extension (``shoes/red.jpg`` → ``shoes/red``), so names mirror the tree."""
    index = 0
    async for key in _pulled(store.iter_keys(source.bucket, source.prefix)):
        path = PurePosixPath(key)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        relative = str(PurePosixPath(key[len(source.prefix) :]).with_suffix(""))
        yield SourceItem(
            index,
            relative,
            f"s3://{source.bucket}/{key}",
            S3Object(bucket=source.bucket, key=key),
            spec.options,
            {"stem": path.stem, "key": key},
        )
        index += 1
