"""Batches from the caller's side — the one path the CLI and the gateway share: submit
(or resubmit), look at, read the results of, cancel, list.

Submitting checks what can be checked at once — the account may read the source and write
the output prefix, a manifest URL passes the URL guard — then creates the record (a
conditional write: of two submissions under one id exactly one creates it) and publishes
``batch.submitted``. Submitting an existing id with the same source, options and output
*resumes* it: ``batch.submitted`` is published again (unless the batch has finished), the
planner continues from its checkpoint and items already done are answered from their job
records, never run again. The same id with a different batch is a conflict.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Literal

from aiokafka.errors import KafkaError

from schemas.batches import (
    BatchRecord,
    BatchSpec,
    BatchState,
    BatchSubmitted,
    BatchView,
    ManifestSource,
    PrefixSource,
)
from schemas.errors import CutstreamError
from schemas.events import utc_now
from schemas.refs import S3Object, UrlInput
from streams.config.settings import Settings
from streams.exceptions import (
    BatchConflictError,
    BatchNotFoundError,
    ObjectNotFoundError,
    QueueUnavailableError,
)
from streams.messaging.kafka import new_producer, start_all
from streams.net.urlguard import UrlPolicy, resolve
from streams.storage.access import ReadAccess, WriteAccess
from streams.storage.base import ObjectStore, Presigner
from streams.storage.batches import BatchStore, Progress, results_csv, results_jsonl
from streams.storage.layout import batch_manifest_key, batch_output_prefix

ResultsFormat = Literal["csv", "jsonl"]


class Batches:
    """Submits and reads batches. Start it before submitting, stop it after."""

    def __init__(
        self, settings: Settings, store: ObjectStore, presigner: Presigner, role: str
    ) -> None:
        self.settings = settings
        self.store = store
        self.presigner = presigner
        self.batches = BatchStore(store, settings.s3.jobs_bucket, settings.s3.output_bucket)
        self.reads = ReadAccess(settings.s3, settings.access.read_grants)
        self.writes = WriteAccess(settings.s3, settings.access.write_grants)
        self.url_policy = UrlPolicy.of(settings.urls)
        self.producer = new_producer(settings, role)

    async def start(self) -> None:
        await start_all(self.producer)

    async def stop(self) -> None:
        await self.producer.stop()

    def manifest_target(self, account: str, batch_id: str, filename: str) -> S3Object:
        """Where a manifest the caller uploads is kept (the account's uploads)."""
        return S3Object(
            bucket=self.settings.s3.input_bucket,
            key=batch_manifest_key(account, batch_id, filename),
        )

    async def upload_manifest(self, target: S3Object, data: bytes | Path) -> None:
        if isinstance(data, Path):
            await asyncio.to_thread(
                self.store.put_file, target.bucket, target.key, data, "text/plain"
            )
        else:
            await asyncio.to_thread(self.store.put, target.bucket, target.key, data, "text/plain")

    def check(self, spec: BatchSpec) -> None:
        """Refuse at once what the account may not read or write."""
        source = spec.source
        if isinstance(source, PrefixSource):
            # Every key under the prefix must be readable: the prefix lies inside a grant.
            if not self.reads.allows(spec.account, source.bucket, source.prefix + "\x00"):
                raise ObjectNotFoundError(f"s3://{source.bucket}/{source.prefix} does not exist")
        elif isinstance(source, ManifestSource) and isinstance(source.manifest, S3Object):
            self.reads.check(spec.account, source.manifest.bucket, source.manifest.key)
        output = spec.output
        bucket = output.bucket or self.settings.s3.output_bucket
        prefix = (
            output.prefix
            if output.prefix is not None
            else batch_output_prefix(spec.account, spec.batch_id)
        )
        self.writes.check(spec.account, bucket, prefix + "x")

    async def check_url(self, spec: BatchSpec) -> None:
        """Refuse a manifest URL the batch service could not fetch: one the URL guard
        refuses (``url_not_allowed``) or whose host does not resolve
        (``input_fetch_failed``), the message naming the field."""
        source = spec.source
        if isinstance(source, ManifestSource) and isinstance(source.manifest, UrlInput):
            try:
                await resolve(str(source.manifest.url), self.url_policy)
            except CutstreamError as exc:
                exc.message = f"source.manifest: {exc.message}"
                raise

    async def submit(self, spec: BatchSpec) -> tuple[BatchRecord, bool]:
        """Create (``True``) or resume (``False``) the batch; see the module docstring."""
        self.check(spec)
        await self.check_url(spec)
        record = BatchRecord(spec=spec)
        created = await self.batches.create(record)
        if not created:
            existing = await self.batches.get(spec.account, spec.batch_id)
            if existing is None:
                raise BatchConflictError(f"batch {spec.batch_id} is being replaced; try again")
            if not existing.spec.same_batch_as(spec):
                raise BatchConflictError(
                    f"batch id {spec.batch_id} is already used by a different batch "
                    "(other source, options or output)"
                )
            record = existing
        if record.finished_at is None and record.state is not BatchState.CANCELED:
            await self._publish(record.spec)
        return record, created

    async def _publish(self, spec: BatchSpec) -> None:
        event = BatchSubmitted(batch_id=spec.batch_id, account=spec.account)
        try:
            await self.producer.send_and_wait(
                self.settings.topics.batches,
                event.model_dump_json().encode(),
                key=spec.account.encode(),  # one planner sees all of an account's batches
            )
        except KafkaError as exc:
            raise QueueUnavailableError(f"cannot queue the batch right now: {exc}") from exc

    async def record(self, account: str, batch_id: str) -> BatchRecord:
        record = await self.batches.get(account, batch_id)
        if record is None:
            raise BatchNotFoundError(f"no batch {batch_id}")
        return record

    async def view(self, account: str, batch_id: str) -> BatchView:
        """The batch with its counts, rate and ETA."""
        record = await self.record(account, batch_id)
        progress = await self.batches.progress(account, batch_id)
        return self._view(record, progress)

    def _view(self, record: BatchRecord, progress: Progress) -> BatchView:
        spec = record.spec
        counts = progress.counts(record)
        rate = None
        if progress.first_at and progress.last_at and progress.done > 1:
            span = (progress.last_at - progress.first_at).total_seconds()
            rate = (progress.done - 1) / span if span > 0 else None
        eta = None
        if record.finished_at is not None:
            eta = 0.0
        elif rate and counts.total is not None:
            eta = max(0, counts.total - counts.done) / rate
        results_url = None
        if record.finished_at is not None:
            key = self.batches.results_key(spec.account, spec.batch_id, "csv")
            results_url = self._url(self.settings.s3.output_bucket, key)
        return BatchView(
            batch_id=spec.batch_id,
            account=spec.account,
            state=record.state,
            source=spec.source,
            output=spec.output,
            counts=counts,
            rate_per_s=round(rate, 3) if rate else None,
            eta_s=round(eta, 1) if eta is not None else None,
            credits=progress.credits,
            bytes=progress.bytes,
            truncated=record.truncated,
            source_error=record.source_error,
            created_at=record.created_at,
            planned_at=record.planned_at,
            finished_at=record.finished_at,
            results_url=results_url,
        )

    def _url(self, bucket: str, key: str) -> str:
        expiry = timedelta(seconds=self.settings.outputs.url_expiry_s)
        return self.presigner.presigned_get_url(bucket, key, expiry)

    async def results(self, account: str, batch_id: str, fmt: ResultsFormat) -> bytes:
        """The results manifest: the final one once the batch has finished, else the rows
        so far (each item once, in source order)."""
        record = await self.record(account, batch_id)
        if record.finished_at is not None:
            key = self.batches.results_key(account, batch_id, fmt)
            return await asyncio.to_thread(self.store.get, self.settings.s3.output_bucket, key)
        rows = await self.batches.rows(account, batch_id)
        return results_csv(rows, self._url) if fmt == "csv" else results_jsonl(rows, self._url)

    async def cancel(self, account: str, batch_id: str) -> BatchRecord:
        """Cancel what has not run: items not yet started end ``canceled`` (canceling again
        changes nothing). A finished batch is a conflict."""
        if (await self.record(account, batch_id)).finished_at is not None:
            raise BatchConflictError(f"batch {batch_id} has already finished")

        def canceled(record: BatchRecord) -> BatchRecord:
            if record.finished_at is not None or record.state is BatchState.CANCELED:
                return record
            return record.model_copy(
                update={"state": BatchState.CANCELED, "canceled_at": utc_now()}
            )

        return await self.batches.update(account, batch_id, canceled)

    async def list(self, account: str) -> list[BatchView]:
        """The account's batches, newest first."""
        views = [
            await self.view(account, batch_id) for batch_id in await self.batches.list_ids(account)
        ]
        return sorted(views, key=lambda view: view.created_at, reverse=True)
