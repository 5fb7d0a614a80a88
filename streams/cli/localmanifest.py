"""A manifest on this machine whose inputs are files on this machine too: the obvious
first try (``sku,image`` / ``shoe-1,shoe-1.jpg``). ``cutstream batch submit`` uploads
those files among the account's uploads and submits the manifest with each such input
replaced by its ``s3://`` key; inputs that are URLs, ``s3://`` keys or bare keys (no file
of that name here) are left as they are.

A relative path is read from the manifest's folder, as a spreadsheet next to its photos
would mean it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from schemas.batches import INPUT_COLUMNS
from schemas.refs import S3Object
from streams.storage.layout import upload_key


@dataclass
class LocalInputs:
    """The files to upload (where each goes, and the file), and the manifest to submit
    instead of the original (``None``: no input named a local file)."""

    uploads: list[tuple[S3Object, Path]] = field(default_factory=list)
    manifest: bytes | None = None


@dataclass
class _Rewriter:
    folder: Path
    bucket: str
    account: str
    batch_id: str
    uploads: list[tuple[S3Object, Path]] = field(default_factory=list)
    _seen: dict[Path, str] = field(default_factory=dict)

    def __call__(self, value: str) -> str:
        if not value or value.startswith(("https://", "http://", "s3://")):
            return value
        path = Path(value).expanduser()
        path = path if path.is_absolute() else self.folder / path
        if not path.is_file():
            return value  # a bare key in the inputs bucket
        path = path.resolve()
        if path not in self._seen:
            # One folder per file keeps its own name (name templates use it).
            key = upload_key(self.account, f"batch-{self.batch_id}/{len(self._seen)}", path.name)
            self.uploads.append((S3Object(bucket=self.bucket, key=key), path))
            self._seen[path] = f"s3://{self.bucket}/{key}"
        return self._seen[path]


def local_inputs(
    manifest: Path,
    *,
    bucket: str,
    account: str,
    batch_id: str,
    manifest_format: str | None = None,
    input_column: str | None = None,
) -> LocalInputs:
    """The local files ``manifest``'s inputs name, and the manifest rewritten to their
    keys (a manifest it cannot read is left as it is: the batch service says why)."""
    text = manifest.read_text(encoding="utf-8-sig")
    rewrite = _Rewriter(manifest.parent, bucket, account, batch_id)
    jsonl = manifest_format == "jsonl" or (
        manifest_format is None
        and (manifest.suffix in (".jsonl", ".ndjson") or text.lstrip().startswith("{"))
    )
    rewritten = _jsonl(text, rewrite) if jsonl else _csv(text, rewrite, input_column)
    if not rewrite.uploads:
        return LocalInputs()
    return LocalInputs(rewrite.uploads, rewritten.encode())


def _jsonl(text: str, rewrite: _Rewriter) -> str:
    lines = []
    for line in text.splitlines():
        try:
            item = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            item = None  # the batch service reports it, with its line number
        if isinstance(item, dict) and isinstance(item.get("input"), str):
            item["input"] = rewrite(item["input"])
            line = json.dumps(item)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _csv(text: str, rewrite: _Rewriter, input_column: str | None) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return text
    header = [name.strip() for name in rows[0]]
    wanted = input_column or next((name for name in INPUT_COLUMNS if name in header), None)
    if wanted is None or wanted not in header:
        return text  # the batch service says what column is missing
    column = header.index(wanted)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        if column < len(row):
            row[column] = rewrite(row[column].strip())
        writer.writerow(row)
    return out.getvalue()
