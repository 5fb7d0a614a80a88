"""The gateway's one pipeline behind every API shape — a thin facade over the shared layers.

Every route turns its request into :meth:`Gateway.submit` (the shared
:class:`~streams.messaging.submit.Submitter`: input stored, job record ``accepted``,
``image.requested`` published) and reads answers back from job records (:meth:`job`) or,
for synchronous routes, from the result topics (:meth:`submit_and_wait`, through one
:class:`~streams.messaging.results.ResultDispatcher` per process). It raises domain errors
(:mod:`streams.gateway.exceptions`, :mod:`streams.exceptions`); the HTTP layer renders
them in each route's shape.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from datetime import timedelta

from schemas.api.native import ObjectRef
from schemas.events import ImageCompleted, ImageFailed, OutputInfo, is_key_safe
from schemas.jobs import JobRecord, JobStatus
from schemas.options import RemovalOptions
from schemas.refs import S3Object, UploadRef, UrlInput
from schemas.renditions import Rendition
from schemas.webhooks import WebhookFormat
from streams.config.settings import Settings
from streams.exceptions import (
    LedgerUnavailableError,
    QueueUnavailableError,
    SubmitTimeoutError,
)
from streams.gateway.estimates import Estimator
from streams.gateway.exceptions import JobConflictError, JobNotFoundError
from streams.gateway.inputs import ImageSource, RemoteImage, Upload
from streams.gateway.metering import Meter
from streams.messaging.backlog import Backlog
from streams.messaging.batches import Batches
from streams.messaging.results import ResultDispatcher
from streams.messaging.submit import Submitter, image_request, new_request_id
from streams.net.urlguard import UrlPolicy
from streams.storage import jobs
from streams.storage.apikeys import KeyStore
from streams.storage.s3 import S3ObjectStore


class Gateway:
    """What one gateway process shares between requests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url_policy = UrlPolicy.of(settings.urls)
        self.store = S3ObjectStore(settings)
        self.presigner = self.store.public(settings)
        self.submitter = Submitter(settings, self.store, "gateway")
        self.jobs = self.submitter.jobs
        self.keys = KeyStore(self.store, settings.s3.jobs_bucket, settings.gateway.api_key_cache_s)
        self.estimates = Estimator(Backlog(settings))
        self.results = ResultDispatcher(settings, on_result=self.estimates.saw)
        self.meter = Meter(settings, self.store) if settings.metering.enabled else None
        """Admission through the ledger (``None``: metering is off)."""
        self.batches = Batches(settings, self.store, self.presigner, "gateway-batches")

    async def start(self) -> None:
        await self.submitter.start()
        await self.batches.start()
        await self.results.start()
        await self.estimates.backlog.start()
        if self.meter is not None:
            await self.meter.start()

    async def stop(self) -> None:
        if self.meter is not None:
            await self.meter.stop()
        await self.estimates.backlog.stop()
        await self.results.stop()
        await self.batches.stop()
        await self.submitter.stop()

    # Submitting -------------------------------------------------------------------------

    async def submit(
        self,
        account: str,
        source: ImageSource,
        options: RemovalOptions,
        *,
        webhook_url: str | None = None,
        webhook_format: WebhookFormat = WebhookFormat.NATIVE,
        request_id: str | None = None,
        shape: str = "native",
        operation: str | None = None,
        outputs: Sequence[Rendition] = (),
        backdrop: Upload | None = None,
    ) -> JobRecord:
        """Claim the request id, store the input, queue the request — through the ledger
        when metering is on (priced by ``shape`` and ``operation``; a refusal is an
        :class:`~streams.gateway.metering.AdmissionRefusedError` and leaves nothing
        behind). Under a ``request_id`` that already names the same work, the existing
        job is returned; under one that names different work, :class:`RequestIdTakenError`.
        ``outputs`` are its renditions; ``backdrop`` an uploaded ``bg_image``, stored
        beside the input."""
        request_id = request_id or new_request_id()
        if isinstance(options.bg_image, UploadRef):  # the uploaded file's own place
            if backdrop is None:
                raise ValueError("bg_image names an upload, but none was given")
            place = self.submitter.upload_target(account, request_id, f"bg-{backdrop.filename}")
            options = options.model_copy(update={"bg_image": place})
        request = image_request(
            account,
            request_id,
            self._input(account, request_id, source),
            options,
            webhook_url=webhook_url,
            webhook_format=webhook_format,
            outputs=outputs,
        )
        upload = source.data if isinstance(source, Upload) else None
        background = backdrop.data if backdrop is not None else None
        if self.meter is None:
            record, _ = await self.submitter.submit(request, upload, backdrop=background)
            return record
        price = self.settings.metering.price(shape, operation, renditions=len(outputs))
        admit = functools.partial(self.meter.admit, price=price)
        try:
            record, _ = await self.submitter.submit(
                request, upload, queue=admit, backdrop=background
            )
        except (LedgerUnavailableError, QueueUnavailableError):
            # The ledger may admit it yet (the command may be in Kafka even when the send
            # failed): the job is canceled, so a worker skips it, and whatever it would
            # hold comes back.
            await self.jobs.put(jobs.canceled(jobs.accepted(request)))
            await self.meter.refund(account, request_id)
            raise
        return record

    def _input(self, account: str, request_id: str, source: ImageSource) -> S3Object | UrlInput:
        if isinstance(source, RemoteImage):
            return UrlInput.model_validate({"url": source.url})
        if isinstance(source, ObjectRef):
            return S3Object(bucket=source.bucket, key=source.key)
        return self.submitter.upload_target(account, request_id, source.filename)

    async def submit_and_wait(
        self,
        account: str,
        source: ImageSource,
        options: RemovalOptions,
        *,
        webhook_format: WebhookFormat = WebhookFormat.NATIVE,
        shape: str = "native",
        operation: str | None = None,
        outputs: Sequence[Rendition] = (),
        backdrop: Upload | None = None,
    ) -> ImageCompleted | ImageFailed:
        """Submit and wait for the result up to ``gateway.sync_timeout_s``; then
        :class:`SubmitTimeoutError` naming the job to poll (the job goes on)."""
        request_id = new_request_id()
        timeout = self.settings.gateway.sync_timeout_s
        async with self.results.awaiting(account, request_id) as result:
            await self.submit(
                account,
                source,
                options,
                webhook_format=webhook_format,
                request_id=request_id,
                shape=shape,
                operation=operation,
                outputs=outputs,
                backdrop=backdrop,
            )
            try:
                return await asyncio.wait_for(result, timeout)
            except TimeoutError:
                raise SubmitTimeoutError(
                    f"not done within {timeout:g} s; the job goes on: poll /v1/jobs/{request_id}"
                ) from None

    # Reading ----------------------------------------------------------------------------

    async def job(self, account: str, request_id: str) -> JobRecord:
        """The job record; :class:`JobNotFoundError` for another account's job or none."""
        record = await self.jobs.get(account, request_id) if is_key_safe(request_id) else None
        if record is None:
            raise JobNotFoundError(f"no job {_shown(request_id)}")
        return record

    async def output_bytes(self, output: OutputInfo) -> bytes:
        return await asyncio.to_thread(self.store.get, output.bucket, output.key)

    def output_url(self, output: OutputInfo, expiry_s: int | None = None) -> str:
        """A presigned download link, valid ``expiry_s`` (default ``outputs.url_expiry_s``)."""
        seconds = expiry_s or self.settings.outputs.url_expiry_s
        return self.presigner.presigned_get_url(
            output.bucket, output.key, timedelta(seconds=seconds)
        )

    async def cancel(self, account: str, request_id: str) -> JobRecord:
        """Cancel a job that has not started (:class:`JobConflictError` otherwise). The
        change is a compare-and-swap on the record, so it never overwrites a worker that
        started in between; the worker checks for the cancellation when the request
        reaches it. What the request holds is refunded (again on a repeated cancel: a
        refund is applied once)."""
        found = (
            await self.jobs.get_versioned(account, request_id) if is_key_safe(request_id) else None
        )
        if found is None:
            raise JobNotFoundError(f"no job {_shown(request_id)}")
        record, version = found
        if record.status is JobStatus.CANCELED:
            await self._refund(record)
            return record
        canceled = jobs.canceled(record)
        if record.status is not JobStatus.ACCEPTED or not await self.jobs.replace(
            canceled, version
        ):
            current = await self.job(account, request_id)
            raise JobConflictError(f"job {request_id} is already {current.status}")
        await self._refund(canceled)
        return canceled

    async def _refund(self, record: JobRecord) -> None:
        if self.meter is not None:
            await self.meter.refund(record.account, record.request_id)

    def estimate_s(self) -> float:
        """Seconds until a job submitted now is likely done."""
        return self.estimates.seconds()


def _shown(request_id: str) -> str:
    """A request id as error messages quote it: at most 64 characters of what was sent."""
    return request_id if len(request_id) <= 64 else request_id[:64] + "…"
