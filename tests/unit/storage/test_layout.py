"""Every key rule, and the names of local outputs."""

from __future__ import annotations

from pathlib import Path

from streams.storage import layout


def test_object_keys() -> None:
    assert layout.upload_key("acme", "r-1", "cup.jpg") == "uploads/acme/r-1/cup.jpg"
    assert layout.output_key("acme", "r-1", "webp") == "acme/r-1.webp"
    assert layout.job_key("acme", "r-1") == "acme/r-1.json"
    assert layout.api_key_record_key("0123abcd") == "_keys/0123abcd.json"


def test_disabled_webhook_markers_are_per_url_and_fixed_length() -> None:
    one = layout.disabled_webhook_key("https://a.example/hook")
    other = layout.disabled_webhook_key("https://a.example/hook?x=1")
    assert one != other
    assert one.startswith(layout.DISABLED_WEBHOOKS_PREFIX)
    assert len(one) == len(other) == len(layout.DISABLED_WEBHOOKS_PREFIX) + 64 + len(".json")


def test_local_targets_mirror_folders_and_never_clash(tmp_path: Path) -> None:
    (tmp_path / "in" / "nested").mkdir(parents=True)
    for name in ("a.jpg", "a.png", "nested/b.webp", "notes.txt"):
        (tmp_path / "in" / name).write_bytes(b"x")
    single = tmp_path / "a.jpeg"
    single.write_bytes(b"x")
    out = tmp_path / "out"
    pairs = layout.local_targets([tmp_path / "in", single], out, "png")
    assert [
        (s.relative_to(tmp_path).as_posix(), t.relative_to(out).as_posix()) for s, t in pairs
    ] == [
        ("in/a.jpg", "a.png"),
        ("in/a.png", "a-1.png"),
        ("in/nested/b.webp", "nested/b.png"),
        ("a.jpeg", "a-2.png"),
    ]


def test_results_csv_cells_never_start_a_formula() -> None:
    from schemas.batches import ResultRow
    from streams.storage.batches import results_csv, spreadsheet_safe

    assert [spreadsheet_safe(v) for v in ("=1+1", "+SUM(A1)", "-2+3", "@x", "\tx", "ok", 3)] == [
        "'=1+1",
        "'+SUM(A1)",
        "'-2+3",
        "'@x",
        "'\tx",
        "ok",
        3,
    ]
    row = ResultRow(
        index=0,
        item_id='=HYPERLINK("http://evil.example","click")',
        input="+SUM(1+1).jpg",
        request_id="b.0",
        status="failed",
        error_message="-oops",
    )
    text = results_csv([row], lambda bucket, key: "").decode()
    line = text.splitlines()[1]
    assert line.startswith("0,\"'=HYPERLINK(")
    assert ",'+SUM(1+1).jpg," in line
    assert ",'-oops," in line
