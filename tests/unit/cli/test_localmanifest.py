"""A local manifest naming local files: what is uploaded, and what it becomes."""

from __future__ import annotations

import json
from pathlib import Path

from streams.cli.localmanifest import local_inputs


def test_local_files_become_keys_and_everything_else_stays(tmp_path: Path) -> None:
    (tmp_path / "shoe.jpg").write_bytes(b"jpeg")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "bag.png").write_bytes(b"png")
    manifest = tmp_path / "catalog.csv"
    manifest.write_text(
        "sku,image,format\n"
        "a,shoe.jpg,webp\n"
        'b,"photos/bag.png",\n'
        "c,https://example.com/x.jpg,\n"
        "d,s3://cutstream-inputs/uploads/default/y.jpg,\n"
        "e,uploads/default/bare.jpg,\n"  # no such file here: a bare key
        "f,shoe.jpg,png\n"  # the same file again: uploaded once
    )
    local = local_inputs(manifest, bucket="inputs", account="default", batch_id="b1")
    assert [(target.key, path.name) for target, path in local.uploads] == [
        ("uploads/default/batch-b1/0/shoe.jpg", "shoe.jpg"),
        ("uploads/default/batch-b1/1/bag.png", "bag.png"),
    ]
    assert local.manifest is not None
    assert local.manifest.decode().splitlines() == [
        "sku,image,format",
        "a,s3://inputs/uploads/default/batch-b1/0/shoe.jpg,webp",
        "b,s3://inputs/uploads/default/batch-b1/1/bag.png,",
        "c,https://example.com/x.jpg,",
        "d,s3://cutstream-inputs/uploads/default/y.jpg,",
        "e,uploads/default/bare.jpg,",
        "f,s3://inputs/uploads/default/batch-b1/0/shoe.jpg,png",
    ]


def test_jsonl_inputs_are_rewritten_too(tmp_path: Path) -> None:
    (tmp_path / "shoe.jpg").write_bytes(b"jpeg")
    manifest = tmp_path / "catalog.jsonl"
    manifest.write_text('{"id": "a", "input": "shoe.jpg", "options": {"format": "webp"}}\n')
    local = local_inputs(manifest, bucket="inputs", account="acme", batch_id="b2")
    assert local.manifest is not None
    item = json.loads(local.manifest.decode())
    assert item == {
        "id": "a",
        "input": "s3://inputs/uploads/acme/batch-b2/0/shoe.jpg",
        "options": {"format": "webp"},
    }


def test_a_manifest_of_urls_is_submitted_as_it_is(tmp_path: Path) -> None:
    manifest = tmp_path / "catalog.csv"
    manifest.write_text("sku,image_url\na,https://example.com/a.jpg\n")
    local = local_inputs(manifest, bucket="inputs", account="default", batch_id="b3")
    assert local.uploads == []
    assert local.manifest is None
