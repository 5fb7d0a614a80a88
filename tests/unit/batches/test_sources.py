"""Reading a batch's source: manifests spooled under a byte cap, parsed in one linear pass
with capped records; prefixes; names."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from schemas.batches import BatchSpec, ManifestSource, SourceItem
from schemas.refs import S3Object, UrlInput
from streams.batches.exceptions import ManifestTooLargeError, SourceError
from streams.batches.planner import output_location
from streams.batches.sources import (
    SourceLimits,
    csv_records,
    manifest_items,
    parse_input,
    prefix_items,
    spool_manifest,
    spooled_items,
)
from streams.net.fetch import Fetcher, FetchLimits
from streams.net.urlguard import UrlPolicy
from streams.storage.memory import MemoryObjectStore

LIMITS = SourceLimits(max_manifest_bytes=4 << 20, max_record_bytes=4096, timeout_s=10)


def spec(source: dict[str, Any] | None = None, **fields: Any) -> BatchSpec:
    source = source or {"kind": "manifest", "manifest": {"bucket": "inputs", "key": "m.csv"}}
    return BatchSpec.model_validate(
        {"batch_id": "b1", "account": "acme", "source": source, **fields}
    )


def items(text: str, fmt: str, **fields: Any) -> list[SourceItem]:
    return list(manifest_items(spec(**fields), io.StringIO(text), fmt, "inputs", 4096))


class CountingText(io.StringIO):
    """A text file that counts the lines read from it."""

    lines_read = 0

    def readline(self, size: int = -1, /) -> str:  # type: ignore[override]
        self.lines_read += 1
        return super().readline(size)


def test_csv_records_keep_quoted_line_breaks_and_quotes() -> None:
    text = 'id,url\n1,"a\nb"\n2,"say ""hi"""\n\n'
    assert list(csv_records(io.StringIO(text), 4096)) == [
        ["id", "url"],
        ["1", "a\nb"],
        ["2", 'say "hi"'],
    ]


def test_an_unterminated_quote_fails_the_source_once_its_record_passes_the_cap() -> None:
    # 64k lines after an opening quote: the old reader re-joined the pending lines at each
    # one (quadratic); this one stops after the record passes the cap.
    text = CountingText('id,url\n"open,x\n' + "row,https://img.example/a.jpg\n" * 64_000)
    with pytest.raises(SourceError, match="starting at line 2 is longer than 4,096") as caught:
        list(csv_records(text, 4096))
    assert caught.value.code == "manifest_invalid"
    assert text.lines_read < 200


def test_a_quote_left_open_at_the_end_and_broken_quoting_fail_the_source() -> None:
    with pytest.raises(SourceError, match="unexpected end of data"):
        list(csv_records(io.StringIO('id\n"open\nmore\n'), 4096))
    with pytest.raises(SourceError, match="line 2"):
        list(csv_records(io.StringIO('id,url\n"a"x,y\n'), 4096))


def test_a_line_longer_than_the_cap_is_never_read_whole() -> None:
    text = CountingText("url\n" + "x" * 100_000 + "\n")
    with pytest.raises(SourceError, match="line 2 is longer than 4,096"):
        list(csv_records(text, 4096))
    with pytest.raises(SourceError, match="line 1 is longer"):
        items('{"url": "' + "x" * 10_000 + '"}\n', "jsonl")


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


def test_a_csv_finds_its_columns_and_reports_bad_rows() -> None:
    text = (
        "sku,image_url,format,bg_color\n"
        "shoe-1,https://img.example/shoe.jpg,webp,\n"
        "shoe-2,https://img.example/boot.jpg,gif,\n"
        "shoe-3,ftp://img.example/x.jpg,,\n"
        "shoe-4,https://img.example/red.jpg,,#ff0000\n"
    )
    found = items(text, "csv", options={"size": "small"})
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
    assert "errors.pydantic.dev" not in found[2].error
    assert found[3].options is not None
    assert found[3].options.bg_color is not None


def test_a_rows_preset_replaces_the_batchs_and_its_other_columns_win() -> None:
    text = (
        "sku,url,preset,format\n"
        "a,https://img.example/a.jpg,,\n"
        "b,https://img.example/b.jpg,ebay,\n"
        "c,https://img.example/c.jpg,google,png\n"
    )
    found = items(text, "csv", options={"preset": "amazon", "align": "bottom"})
    canvases = [(i.options.canvas, i.options.format.value) for i in found if i.options]
    assert canvases == [((2000, 2000), "jpg"), ((1600, 1600), "jpg"), ((1500, 1500), "png")]
    assert all(i.options is not None and i.options.align == "bottom" for i in found)


def test_a_csv_without_an_input_column_cannot_be_read() -> None:
    with pytest.raises(SourceError, match="no input column"):
        items("sku,picture\n1,x\n", "csv")
    named = items(
        "sku,picture\n1,https://img.example/p.png\n",
        "csv",
        source={
            "kind": "manifest",
            "manifest": {"bucket": "inputs", "key": "m.csv"},
            "input_column": "picture",
        },
    )
    assert named[0].input == UrlInput.model_validate({"url": "https://img.example/p.png"})


def test_jsonl_lines_take_objects_options_and_report_garbage() -> None:
    text = (
        '{"id": "a", "input": {"bucket": "cat", "key": "a.jpg"}, "options": {"format": "jpg"}}\n'
        "not json\n"
        "\n"
        '{"url": "https://img.example/b.jpg"}\n' + "[" * 2000 + "]" * 2000 + "\n"
    )
    found = items(text, "jsonl")
    assert [item.index for item in found] == [0, 1, 2, 3]
    assert found[0].input == S3Object(bucket="cat", key="a.jpg")
    assert found[0].fields["stem"] == "a"
    assert found[0].options is not None
    assert found[0].options.format == "jpg"
    assert found[1].error is not None
    assert found[2].item_id == "2"
    assert found[3].error is not None  # nested past the parser's depth: a bad row, no crash
    assert found[3].error.startswith("not a JSON object")


def test_items_round_trip_through_their_stored_form() -> None:
    [item] = items("sku,url,format\nshoe,https://img.example/a.jpg,webp\n", "csv")
    assert SourceItem.model_validate_json(item.model_dump_json(exclude_defaults=True)) == item


async def test_a_manifest_past_the_byte_cap_fails_as_soon_as_it_passes() -> None:
    store = MemoryObjectStore()
    store.ensure_bucket("inputs")
    store.put("inputs", "m.csv", b"url\n" + b"uploads/acme/a.jpg\n" * 100_000, "text/csv")
    source = spec().source
    assert isinstance(source, ManifestSource)
    fetcher = Fetcher(UrlPolicy(), FetchLimits())
    small = SourceLimits(max_manifest_bytes=64 * 1024, max_record_bytes=4096, timeout_s=10)
    with tempfile.TemporaryFile() as spool, pytest.raises(ManifestTooLargeError) as caught:
        await spool_manifest(source, store, fetcher, spool, small)
    assert caught.value.code == "manifest_too_large"
    with tempfile.TemporaryFile() as spool:
        await spool_manifest(source, store, fetcher, spool, LIMITS)
        found = list(spooled_items(spec(), spool, "inputs", LIMITS))
    assert len(found) == 100_000
    assert found[-1].input == S3Object(bucket="inputs", key="uploads/acme/a.jpg")


def test_a_prefix_lists_its_images_in_key_order_with_relative_ids() -> None:
    store = MemoryObjectStore()
    store.ensure_bucket("cat")
    for key in ("p/shoes/b.JPG", "p/shoes/a.png", "p/readme.txt", "q/other.jpg"):
        store.put("cat", key, b"x", "image/jpeg")
    source = {"kind": "prefix", "bucket": "cat", "prefix": "p/"}
    batch = spec(source)
    found: Iterator[SourceItem] = prefix_items(batch, batch.source, store)  # type: ignore[arg-type]
    listed = list(found)
    assert [(item.index, item.item_id) for item in listed] == [(0, "shoes/a"), (1, "shoes/b")]
    assert listed[1].input == S3Object(bucket="cat", key="p/shoes/b.JPG")


def test_output_names_follow_the_template_under_the_prefix() -> None:
    item = SourceItem(
        index=3,
        item_id="shoe-1",
        raw_input="https://x/y.jpg",
        fields={"sku": "shoe-1", "stem": "y"},
    )
    default = output_location(spec(), item, "png", "outs")
    assert (default.bucket, default.key) == ("outs", "acme/batches/b1/shoe-1.png")
    named = spec(
        output={"bucket": "cat", "prefix": "acme/", "name_template": "{sku}/{stem}-{index}.{ext}"}
    )
    assert output_location(named, item, "webp", "outs").key == "acme/shoe-1/y-3.webp"
    missing = spec(output={"name_template": "{colour}.{ext}"})
    with pytest.raises(ValueError, match="colour"):
        output_location(missing, item, "png", "outs")


def test_an_output_prefix_is_a_plain_path() -> None:
    for prefix in ("../x/", "acme/../other/", "/abs/", "a//b/"):
        with pytest.raises(ValueError, match="object key"):
            spec(output={"prefix": prefix})
    assert spec(output={"prefix": "acme/cut/"}).output.prefix == "acme/cut/"
