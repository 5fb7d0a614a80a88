"""Reading a batch's source: CSV and JSONL manifests as streams, prefixes, names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from schemas.batches import BatchSpec
from schemas.refs import S3Object, UrlInput
from streams.batches.planner import output_location
from streams.batches.sources import (
    SourceError,
    SourceItem,
    csv_records,
    manifest_items,
    parse_input,
    prefix_items,
    text_lines,
)
from streams.storage.memory import MemoryObjectStore


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _lines(text: str) -> AsyncIterator[str]:
    for line in text.split("\n"):
        yield line


def spec(source: dict[str, Any] | None = None, **fields: Any) -> BatchSpec:
    source = source or {"kind": "manifest", "manifest": {"bucket": "inputs", "key": "m.csv"}}
    return BatchSpec.model_validate(
        {"batch_id": "b1", "account": "acme", "source": source, **fields}
    )


async def items(text: str, fmt: str, **fields: Any) -> list[SourceItem]:
    return [item async for item in manifest_items(spec(**fields), _lines(text), fmt, "inputs")]


async def test_text_lines_split_across_chunks_drop_the_bom_and_crlf() -> None:
    chunks = _chunks(
        "\ufeffsku,ur".encode(), b"l\r\na,", "caf\u00e9".encode()[:4], "\u00e9".encode()[1:], b"\n"
    )
    lines = [line async for line in text_lines(chunks)]
    assert lines == ["sku,url", "a,caf\u00e9"]


async def test_csv_records_keep_quoted_line_breaks_and_quotes() -> None:
    text = 'id,url\n1,"a\nb"\n2,"say ""hi"""\n\n'
    records = [record async for record in csv_records(_lines(text))]
    assert records == [["id", "url"], ["1", "a\nb"], ["2", 'say "hi"']]
    with pytest.raises(SourceError):
        _ = [record async for record in csv_records(_lines('id\n"open'))]


def test_inputs_are_urls_s3_references_or_keys_in_the_inputs_bucket() -> None:
    assert parse_input("https://img.example/a.jpg", "inputs") == UrlInput.model_validate(
        {"url": "https://img.example/a.jpg"}
    )
    assert parse_input("s3://cat/x/y.png", "inputs") == S3Object(bucket="cat", key="x/y.png")
    assert parse_input(" uploads/acme/a.jpg ", "inputs") == S3Object(
        bucket="inputs", key="uploads/acme/a.jpg"
    )
    with pytest.raises(ValueError, match="no leading"):
        parse_input("s3://cat/../etc", "inputs")


async def test_a_csv_finds_its_columns_and_reports_bad_rows() -> None:
    text = (
        "sku,image_url,format,bg_color\n"
        "shoe-1,https://img.example/shoe.jpg,webp,\n"
        "shoe-2,https://img.example/boot.jpg,gif,\n"
        "shoe-3,ftp://img.example/x.jpg,,\n"
        "shoe-4,https://img.example/red.jpg,,#ff0000\n"
    )
    found = await items(text, "csv", options={"size": "small"})
    assert [item.item_id for item in found] == ["shoe-1", "shoe-2", "shoe-3", "shoe-4"]
    first = found[0]
    assert first.error is None
    assert first.options is not None
    assert (first.options.format, first.options.size) == ("webp", "small")
    assert first.fields["stem"] == "shoe"
    assert found[1].error is not None
    assert "format" in found[1].error
    assert found[2].error is not None
    assert "bad input" in found[2].error
    assert found[3].options is not None
    assert found[3].options.bg_color is not None


async def test_a_csv_without_an_input_column_cannot_be_read() -> None:
    with pytest.raises(SourceError, match="no input column"):
        await items("sku,picture\n1,x\n", "csv")
    named = await items(
        "sku,picture\n1,https://img.example/p.png\n",
        "csv",
        source={
            "kind": "manifest",
            "manifest": {"bucket": "inputs", "key": "m.csv"},
            "input_column": "picture",
        },
    )
    assert named[0].input == UrlInput.model_validate({"url": "https://img.example/p.png"})


async def test_jsonl_lines_take_objects_options_and_report_garbage() -> None:
    text = (
        '{"id": "a", "input": {"bucket": "cat", "key": "a.jpg"}, "options": {"format": "jpg"}}\n'
        "not json\n"
        "\n"
        '{"url": "https://img.example/b.jpg"}\n'
    )
    found = await items(text, "jsonl")
    assert [item.index for item in found] == [0, 1, 2]
    assert found[0].input == S3Object(bucket="cat", key="a.jpg")
    assert found[0].fields["stem"] == "a"
    assert found[0].options is not None
    assert found[0].options.format == "jpg"
    assert found[1].error is not None
    assert found[2].item_id == "2"


async def test_a_prefix_lists_its_images_in_key_order_with_relative_ids() -> None:
    store = MemoryObjectStore()
    store.ensure_bucket("cat")
    for key in ("p/shoes/b.JPG", "p/shoes/a.png", "p/readme.txt", "q/other.jpg"):
        store.put("cat", key, b"x", "image/jpeg")
    source = {"kind": "prefix", "bucket": "cat", "prefix": "p/"}
    batch = spec(source)
    found = [item async for item in prefix_items(batch, batch.source, store)]  # type: ignore[arg-type]
    assert [(item.index, item.item_id) for item in found] == [(0, "shoes/a"), (1, "shoes/b")]
    assert found[1].input == S3Object(bucket="cat", key="p/shoes/b.JPG")


def test_output_names_follow_the_template_under_the_prefix() -> None:
    item = SourceItem(3, "shoe-1", "https://x/y.jpg", fields={"sku": "shoe-1", "stem": "y"})
    default = output_location(spec(), item, "png", "outs")
    assert (default.bucket, default.key) == ("outs", "acme/batches/b1/shoe-1.png")
    named = spec(
        output={"bucket": "cat", "prefix": "acme/", "name_template": "{sku}/{stem}-{index}.{ext}"}
    )
    assert output_location(named, item, "webp", "outs").key == "acme/shoe-1/y-3.webp"
    missing = spec(output={"name_template": "{colour}.{ext}"})
    with pytest.raises(ValueError, match="colour"):
        output_location(missing, item, "png", "outs")
