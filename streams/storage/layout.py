"""Where things are kept: every object-key rule, and the names of local output files.

Buckets (``s3.*_bucket``):

- inputs: ``uploads/<account>/<request_id>/<file name>`` — an uploaded input;
  ``uploads/<account>/batch-<batch_id>/<file name>`` — an uploaded batch manifest;
- outputs: ``<account>/<request_id>.<ext>`` — deterministic, so a recomputed request
  overwrites its output instead of adding one; a request's further renditions without a
  key of their own go next to its first output: ``<first key, extension dropped>.<n>.<ext>``;
- jobs: ``<account>/<request_id>.json`` — the job record; ``_keys/<key id>.json`` — an API
  key record (its hash only); ``_webhooks/disabled/<sha256 of the URL>.json`` — an endpoint
  that answered 410 Gone; ``_accounts/<account>.json`` — the ledger's last view of an
  account (a projection: the ledger's table is the truth); ``_batches/<account>/<batch_id>/``
  — a batch's record, progress and result chunks (:mod:`streams.storage.batches`);
- outputs, for batches: ``<account>/batches/<batch_id>/`` — the default output prefix and
  the results manifest (``results.csv``, ``results.jsonl``).

Account and request ids are key-safe (:func:`schemas.events.is_key_safe`), so no key built
here can climb out of its prefix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

UPLOADS_PREFIX = "uploads/"
API_KEYS_PREFIX = "_keys/"
ACCOUNTS_PREFIX = "_accounts/"
DISABLED_WEBHOOKS_PREFIX = "_webhooks/disabled/"
BATCHES_PREFIX = "_batches/"
DLQ_REPLAYS_PREFIX = "_dlq/replays/"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
"""File name suffixes taken as images when a local folder is searched."""


def upload_prefix(account: str) -> str:
    """Where an account's uploads are, in the inputs bucket."""
    return f"{UPLOADS_PREFIX}{account}/"


def upload_key(account: str, request_id: str, filename: str) -> str:
    """Key of an uploaded input in the inputs bucket."""
    return f"{upload_prefix(account)}{request_id}/{filename}"


def output_prefix(account: str) -> str:
    """Where an account's outputs are, in the outputs bucket."""
    return f"{account}/"


def output_key(account: str, request_id: str, extension: str) -> str:
    """Key of a request's output in the outputs bucket."""
    return f"{output_prefix(account)}{request_id}.{extension}"


def rendition_key(first_key: str, index: int, extension: str) -> str:
    """Key of a request's ``index``-th rendition when it names none: beside the first."""
    folder, _, name = first_key.rpartition("/")
    stem = name.rpartition(".")[0] or name
    return f"{folder}/{stem}.{index}.{extension}" if folder else f"{stem}.{index}.{extension}"


def job_key(account: str, request_id: str) -> str:
    """Key of a request's job record in the jobs bucket."""
    return f"{account}/{request_id}.json"


def api_key_record_key(key_id: str) -> str:
    """Key of an API key's record in the jobs bucket."""
    return f"{API_KEYS_PREFIX}{key_id}.json"


def account_key(account: str) -> str:
    """Key of an account's projection in the jobs bucket."""
    return f"{ACCOUNTS_PREFIX}{account}.json"


def batch_manifest_key(account: str, batch_id: str, filename: str) -> str:
    """Key of a manifest the caller uploads for a batch, in the inputs bucket (among the
    account's uploads, so the account may read it)."""
    return f"{upload_prefix(account)}batch-{batch_id}/{filename}"


def batches_prefix(account: str) -> str:
    """Where an account's batches are kept, in the jobs bucket."""
    return f"{BATCHES_PREFIX}{account}/"


def batch_prefix(account: str, batch_id: str) -> str:
    """Where one batch's record, progress and result chunks are, in the jobs bucket."""
    return f"{batches_prefix(account)}{batch_id}/"


def batch_output_prefix(account: str, batch_id: str) -> str:
    """A batch's default output prefix, in the outputs bucket (inside the account's own)."""
    return f"{output_prefix(account)}batches/{batch_id}/"


def batch_results_key(account: str, batch_id: str, extension: str) -> str:
    """Key of a batch's results manifest (``csv`` or ``jsonl``) in the outputs bucket."""
    return f"{batch_output_prefix(account, batch_id)}results.{extension}"


def dlq_replay_key(event_id: str) -> str:
    """Key of the record that a dead letter was replayed, in the jobs bucket."""
    return f"{DLQ_REPLAYS_PREFIX}{event_id}.json"


def disabled_webhook_key(url: str) -> str:
    """Key of the marker that disables a webhook endpoint (shared by every notifier)."""
    return DISABLED_WEBHOOKS_PREFIX + hashlib.sha256(url.encode()).hexdigest() + ".json"


def local_targets(inputs: Sequence[Path], out_dir: Path, extension: str) -> list[tuple[Path, Path]]:
    """(source, output file) for every input image. Folders are searched recursively and
    mirrored under ``out_dir``; clashing names get ``-1``, ``-2``… so no output overwrites
    another. Used by ``cutstream remove`` and by the client's downloads alike."""
    suffix = f".{extension}"
    pairs: list[tuple[Path, Path]] = []
    taken: set[Path] = set()
    for item in inputs:
        if item.is_dir():
            found = sorted(
                p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            relatives = [(p, p.relative_to(item).with_suffix(suffix)) for p in found]
        else:
            relatives = [(item, Path(item.name).with_suffix(suffix))]
        for source, relative in relatives:
            target, count = out_dir / relative, 0
            while target in taken:
                count += 1
                target = out_dir / relative.with_name(f"{relative.stem}-{count}{suffix}")
            taken.add(target)
            pairs.append((source, target))
    return pairs
