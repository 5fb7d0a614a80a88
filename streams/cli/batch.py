"""``cutstream batch``: bulk imports — submit a manifest or a prefix, follow it, read its
results, cancel it.

Like ``cutstream submit`` it talks to Kafka and S3 directly (a trusted producer: not
metered); the batch service (``cutstream batches``, run by ``cutstream up``) plans and
tracks it.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from streams.cli.base import cli, console, load_settings
from streams.cli.options import (
    parse_renditions,
    pop_removal_options,
    removal_option_flags,
    rendition_flag,
)

if TYPE_CHECKING:
    from rich.console import Console

    from schemas.batches import BatchSource, BatchView
    from schemas.refs import S3Object
    from streams.messaging.batches import Batches


@cli.group()
def batch() -> None:
    """Bulk imports: a CSV/JSONL manifest or a bucket prefix in, a results manifest out."""


def _run(call: Any) -> Any:
    """Run ``call(batches)`` with a started client."""
    from streams.messaging.batches import Batches
    from streams.storage.s3 import S3ObjectStore

    settings = load_settings()

    async def run() -> Any:
        store = S3ObjectStore(settings)
        client = Batches(settings, store, store.public(settings), "cli-batches")
        await client.start()
        try:
            return await call(client)
        finally:
            await client.stop()

    return asyncio.run(run())


def _source(
    value: str,
    client: Batches,
    account: str,
    batch_id: str,
    manifest_format: str | None,
    input_column: str | None,
    id_column: str | None,
) -> tuple[BatchSource, _Upload | None]:
    """The batch's source from SOURCE, and what to upload first for a local manifest."""
    from schemas.batches import ManifestSource, PrefixSource
    from schemas.refs import S3Object, UrlInput

    columns = {"format": manifest_format, "input_column": input_column, "id_column": id_column}
    if value.startswith("s3://"):
        bucket, _, key = value.removeprefix("s3://").partition("/")
        if key == "" or key.endswith("/"):
            return PrefixSource(bucket=bucket, prefix=key), None
        return ManifestSource.model_validate(
            {"manifest": S3Object.model_validate({"bucket": bucket, "key": key}), **columns}
        ), None
    if value.startswith(("https://", "http://")):
        manifest = UrlInput.model_validate({"url": value})
        return ManifestSource.model_validate({"manifest": manifest, **columns}), None
    path = Path(value)
    if not path.is_file():
        raise click.BadParameter(
            "a local manifest file, s3://bucket/key (a manifest), s3://bucket/prefix/ (every "
            "image under it) or an https URL of a manifest",
            param_hint="SOURCE",
        )
    from streams.cli.localmanifest import local_inputs

    target = client.manifest_target(account, batch_id, path.name)
    local = local_inputs(
        path,
        bucket=client.settings.s3.input_bucket,
        account=account,
        batch_id=batch_id,
        manifest_format=manifest_format,
        input_column=input_column,
    )
    upload = _Upload(target, local.manifest or path, local.uploads)
    return ManifestSource.model_validate({"manifest": target, **columns}), upload


@dataclass(frozen=True)
class _Upload:
    """A local manifest to upload (as it is, or rewritten to the keys of the local files
    it names) and those files."""

    manifest: S3Object
    data: bytes | Path
    files: list[tuple[S3Object, Path]]

    async def send(self, client: Batches, messages: Console) -> None:
        import mimetypes

        for index, (target, path) in enumerate(self.files, 1):
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            await asyncio.to_thread(client.store.put_file, target.bucket, target.key, path, kind)
            messages.print(f"uploaded {index}/{len(self.files)}: {path.name}", highlight=False)
        await client.upload_manifest(self.manifest, self.data)


@batch.command("submit")
@click.argument("source")
@click.option("--id", "batch_id", default=None, help="Batch id (resubmitting it resumes it).")
@click.option("--account", default="default", show_default=True, help="Account to submit as.")
@click.option(
    "--output",
    "output",
    default=None,
    metavar="s3://BUCKET/PREFIX/",
    help="Where the outputs go (default: <outputs bucket>/<account>/batches/<id>/).",
)
@click.option(
    "--name-template",
    default="{id}.{ext}",
    show_default=True,
    help="Output name under the prefix: {id} {index} {stem} {ext} {batch_id} or a column.",
)
@click.option("--manifest-format", type=click.Choice(["csv", "jsonl"]), default=None)
@click.option("--input-column", default=None, help="Manifest column with each input.")
@click.option("--id-column", default=None, help="Manifest column with each item's id.")
@click.option("--webhook-url", default=None, help="POST batch.completed here (https, public).")
@click.option("--wait", is_flag=True, help="Follow the batch with a progress bar until done.")
@rendition_flag
@removal_option_flags
def submit_batch(
    source: str,
    batch_id: str | None,
    account: str,
    output: str | None,
    name_template: str,
    manifest_format: str | None,
    input_column: str | None,
    id_column: str | None,
    webhook_url: str | None,
    wait: bool,
    renditions: tuple[str, ...],
    **flags: Any,
) -> None:
    """Submit SOURCE as a batch: a local CSV/JSONL manifest (uploaded first, with the
    local files its inputs name: paths relative to the manifest's folder), an
    s3://bucket/key manifest, an https URL of one, or s3://bucket/prefix/ (every image
    under it). Prints the batch id; with --wait, follows it and exits 1 if items failed."""
    from pydantic import ValidationError

    from schemas.batches import BatchOutput, BatchSpec

    options = pop_removal_options(flags)
    outputs = parse_renditions(options, renditions)
    batch_id = batch_id or f"batch_{uuid.uuid4().hex}"
    out_bucket = out_prefix = None
    if output is not None:
        if not output.startswith("s3://"):
            raise click.BadParameter("s3://bucket/prefix/", param_hint="--output")
        out_bucket, _, out_prefix = output.removeprefix("s3://").partition("/")
        if out_prefix and not out_prefix.endswith("/"):
            out_prefix += "/"

    async def run(client: Batches) -> BatchView:
        spec_source, upload = _source(
            source, client, account, batch_id, manifest_format, input_column, id_column
        )
        try:
            spec = BatchSpec.model_validate(
                {
                    "batch_id": batch_id,
                    "account": account,
                    "source": spec_source,
                    "options": options,
                    "outputs": outputs,
                    "output": BatchOutput.model_validate(
                        {"bucket": out_bucket, "prefix": out_prefix, "name_template": name_template}
                    ),
                    "webhook_url": webhook_url,
                }
            )
        except ValidationError as exc:
            said = "; ".join(
                f"{'.'.join(map(str, error['loc'])) or 'batch'}: {error['msg']}"
                for error in exc.errors()
            )
            raise click.BadParameter(said) from None
        messages = console()
        if upload is not None and await client.batches.get(account, batch_id) is None:
            # (A resubmission keeps reading the manifest it was first given.)
            await upload.send(client, messages)
        record, created = await client.submit(spec)
        done = record.finished_at is not None
        said = "submitted" if created else "already finished:" if done else "resumed"
        messages.print(f"{said} batch [bold]{batch_id}[/]")
        if wait:
            return await _follow(client, account, batch_id, messages)
        return await client.view(account, batch_id)

    view = _run(run)
    click.echo(view.batch_id)
    if wait and (view.counts.failed or view.state == "failed"):
        sys.exit(1)


async def _follow(client: Batches, account: str, batch_id: str, messages: Console) -> BatchView:
    """A live progress bar (done of total, failed, rate, ETA) until the batch finishes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        "{task.fields[detail]}",
        console=messages,
    ) as progress:
        task = progress.add_task(batch_id, total=None, detail="planning")
        while True:
            view = await client.view(account, batch_id)
            counts = view.counts
            rate = f"{view.rate_per_s:.1f}/s" if view.rate_per_s else "-/s"
            eta = f"ETA {view.eta_s:.0f} s" if view.eta_s is not None else "ETA -"
            detail = f"{counts.failed} failed, {counts.canceled} canceled, {rate}, {eta}"
            progress.update(task, completed=counts.done, total=counts.total, detail=detail)
            if view.finished_at is not None:
                break
            await asyncio.sleep(1.0)
    if view.source_error is not None:
        messages.print(f"failed: [{view.source_error.code}] {view.source_error.message}")
        return view
    messages.print(
        f"{view.state}: {counts.succeeded} succeeded, {counts.failed} failed, "
        f"{counts.canceled} canceled — results: cutstream batch results {batch_id}"
    )
    return view


@batch.command("status")
@click.argument("batch_id")
@click.option("--account", default="default", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the batch as JSON.")
@click.option("--wait", is_flag=True, help="Follow it with a progress bar until done.")
def status(batch_id: str, account: str, as_json: bool, wait: bool) -> None:
    """Progress of a batch: counts, rate, ETA, the results URL once finished."""

    async def run(client: Batches) -> BatchView:
        if wait:
            return await _follow(client, account, batch_id, console())
        return await client.view(account, batch_id)

    view = _run(run)
    if as_json:
        click.echo(view.model_dump_json(indent=2))
        return
    _print(view, console(stderr=False))


def _print(view: BatchView, out: Console) -> None:
    from rich.table import Table

    counts = view.counts
    table = Table(title=f"batch {view.batch_id}", show_header=False)
    rows = {
        "state": str(view.state),
        "items": "reading the source…" if counts.total is None else str(counts.total),
        # `queued` counts items ever put on the lane; what a reader wants is what waits.
        "waiting or running": str(max(counts.queued - counts.done, 0)),
        "succeeded": str(counts.succeeded),
        "failed": str(counts.failed),
        "canceled": str(counts.canceled),
        "rate": f"{view.rate_per_s:.2f} items/s" if view.rate_per_s else "-",
        "ETA": f"{view.eta_s:.0f} s" if view.eta_s is not None else "-",
        "created": view.created_at.isoformat(timespec="seconds"),
        "finished": view.finished_at.isoformat(timespec="seconds") if view.finished_at else "-",
    }
    if view.source_error is not None:
        rows["source error"] = f"[{view.source_error.code}] {view.source_error.message}"
    if view.truncated:
        rows["truncated"] = "the source had more items than batches.max_items"
    if view.results_url:
        rows["results"] = view.results_url
    for name, value in rows.items():
        table.add_row(name, value)
    out.print(table)


@batch.command("results")
@click.argument("batch_id")
@click.option("--account", default="default", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (`-` or none: standard output).",
)
@click.option("--jsonl", is_flag=True, help="JSON lines instead of CSV.")
def results(batch_id: str, account: str, output: Path | None, jsonl: bool) -> None:
    """The results manifest (one row per item), to stdout or a file. Before the batch has
    finished: the rows so far."""
    data: bytes = _run(
        lambda client: client.results(account, batch_id, "jsonl" if jsonl else "csv")
    )
    if output is None or str(output) == "-":
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        console().print(f"wrote {output}")


@batch.command("cancel")
@click.argument("batch_id")
@click.option("--account", default="default", show_default=True)
def cancel(batch_id: str, account: str) -> None:
    """Cancel what has not run yet (those items end `canceled`)."""
    _run(lambda client: client.cancel(account, batch_id))
    console().print(f"canceled batch {batch_id}; items already running finish")


@batch.command("list")
@click.option("--account", default="default", show_default=True)
def list_batches(account: str) -> None:
    """The account's batches, newest first."""
    from rich.table import Table

    views: list[BatchView] = _run(lambda client: client.list(account))
    table = Table(title=f"batches of {account}")
    for column in ("id", "state", "done", "failed", "total", "created"):
        table.add_column(column)
    for view in views:
        counts = view.counts
        table.add_row(
            view.batch_id,
            str(view.state),
            str(counts.done),
            str(counts.failed),
            "-" if counts.total is None else str(counts.total),
            view.created_at.isoformat(timespec="seconds"),
        )
    console(stderr=False).print(table)
