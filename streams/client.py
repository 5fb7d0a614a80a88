"""The client pipelines use: submit images through Kafka and S3, collect the results.

Built on the shared submission path (:class:`~streams.messaging.submit.Submitter`) and a
:class:`~streams.messaging.results.ResultWatcher` started when the client starts, so no
result published afterwards is missed::

    async with Client(settings) as client:
        request = await client.submit("https://images.example/shoe.jpg", RemovalOptions())
        result = await client.wait(request.request_id, timeout=60)

``cutstream submit`` uses :meth:`Client.submit_files`. Pipelines import it from the
``cutstream`` package (docs/sdk.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from schemas.events import ImageCompleted, ImageRequested, ResultEvent
from schemas.options import RemovalOptions
from schemas.refs import S3Object, UrlInput
from schemas.renditions import Rendition, rendition_options
from streams.config.settings import Settings
from streams.exceptions import StorageUnavailableError, SubmitTimeoutError
from streams.messaging.results import ResultWatcher
from streams.messaging.submit import Submitter, image_request, new_request_id
from streams.net.urlguard import UrlPolicy, resolve
from streams.storage.base import ObjectStore
from streams.storage.layout import local_targets
from streams.storage.s3 import S3ObjectStore

_UPLOADS_AT_ONCE = 8

T = TypeVar("T")

Image = bytes | Path | str | S3Object
"""An image to submit: its bytes, a local file, an http(s) URL, or an object in the store."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one submitted file."""

    source: Path
    request_id: str
    event: ResultEvent
    saved_to: Path | None


def _store_retries(patience_s: float) -> AsyncRetrying:
    """Retry transient object-store errors with exponential backoff for ``patience_s``."""
    return AsyncRetrying(
        retry=retry_if_exception_type(StorageUnavailableError),
        wait=wait_exponential(multiplier=0.25, max=5),
        stop=stop_after_delay(patience_s),
        reraise=True,
    )


class Client:
    """Submits images and collects their results; use it as an async context manager.

    Object-store calls are retried while the store is briefly unavailable (up to
    ``store_patience_s``), as the workers do with their retry topics. ``settings`` default
    to the environment's (``CUTSTREAM_*``), ``store`` to the S3 store they name.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        store: ObjectStore | None = None,
        *,
        store_patience_s: float = 60,
    ) -> None:
        self.settings = settings or Settings()
        self.store = store or S3ObjectStore(self.settings)
        self.store_patience_s = store_patience_s
        self._submitter = Submitter(self.settings, self.store, "client")
        self._watcher = ResultWatcher(self.settings)
        self._tracked: set[str] = set()
        """Request ids whose results are kept when they arrive while others are awaited."""
        self._arrived: dict[str, ResultEvent] = {}

    async def start(self) -> None:
        """Connect; results published from now on are seen. If Kafka does not answer,
        nothing is left open."""
        try:
            await self._watcher.start()
            await self._submitter.start()
        except BaseException:
            await self.stop()  # closes what was not started too: nothing left open
            raise

    async def stop(self) -> None:
        await self._submitter.stop()
        await self._watcher.stop()

    async def __aenter__(self) -> Client:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        async for attempt in _store_retries(self.store_patience_s):
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity reraises")

    # Submitting -------------------------------------------------------------------------

    async def submit(
        self,
        image: Image,
        options: RemovalOptions | None = None,
        *,
        account: str = "default",
        request_id: str | None = None,
        webhook_url: str | None = None,
        filename: str = "image",
        outputs: Sequence[Rendition] = (),
    ) -> ImageRequested:
        """Publish a request for one image and return it (its ``request_id`` is the key to
        its result). Bytes and files are uploaded first; ``filename`` names uploaded bytes.
        ``outputs`` are its renditions (one model run, several outputs).

        A ``request_id`` that already names the same work publishes that request again (its
        result comes back, computed once); one that names different work raises
        :class:`RequestIdTakenError`. A ``webhook_url`` is checked by the URL guard first
        (:class:`UrlNotAllowedError`).
        """
        if webhook_url is not None:
            await resolve(webhook_url, UrlPolicy.of(self.settings.urls))
        return await self._submit(
            image, options or RemovalOptions(), account, request_id, webhook_url, filename, outputs
        )

    async def _submit(
        self,
        image: Image,
        options: RemovalOptions,
        account: str,
        request_id: str | None,
        webhook_url: str | None,
        filename: str,
        outputs: Sequence[Rendition] = (),
    ) -> ImageRequested:
        request_id = request_id or new_request_id()
        source, data = await self._source(image, account, request_id, filename)
        request = image_request(
            account, request_id, source, options, webhook_url=webhook_url, outputs=outputs
        )
        self._tracked.add(request_id)
        record, created = await self._retrying(lambda: self._submitter.submit(request, data))
        if created:
            return request
        # The id already names this work (a retry after a crash, say): publish it again so
        # its result comes back — a worker answers a finished request from its record.
        assert record.request is not None
        again = ImageRequested(
            request_id=record.request_id,
            account=record.account,
            trace_id=record.trace_id,
            created_at=record.created_at,
            payload=record.request,
        )
        await self._submitter.publish([again])
        return again

    async def _source(
        self, image: Image, account: str, request_id: str, filename: str
    ) -> tuple[S3Object | UrlInput, bytes | None]:
        """Where the request's input is, and the bytes to store there (if the caller
        brought them)."""
        if isinstance(image, S3Object):
            return image, None
        if isinstance(image, str):
            return UrlInput.model_validate({"url": image}), None
        if isinstance(image, Path):
            data = await asyncio.to_thread(image.read_bytes)
            return self._submitter.upload_target(account, request_id, image.name), data
        return self._submitter.upload_target(account, request_id, filename), image

    # Results ----------------------------------------------------------------------------

    async def results(
        self, request_ids: Iterable[str], timeout: float
    ) -> AsyncIterator[ResultEvent]:
        """Yield the first result of each request in ``request_ids`` as it arrives (in
        arrival order). Results of other requests this client submitted are kept for
        later calls. :class:`SubmitTimeoutError` names what is still pending after
        ``timeout`` seconds."""
        pending = set(request_ids)
        self._tracked.update(pending)
        deadline = time.monotonic() + timeout
        while True:
            for request_id in [r for r in pending if r in self._arrived]:
                pending.discard(request_id)
                self._tracked.discard(request_id)
                yield self._arrived.pop(request_id)
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SubmitTimeoutError(
                    f"no result within {timeout:.0f} s for {len(pending)} request(s): "
                    + ", ".join(sorted(pending))
                )
            for event in await self._watcher.next_batch(int(min(remaining, 1.0) * 1000)):
                if event.request_id in self._tracked:
                    self._arrived.setdefault(event.request_id, event)

    async def wait(self, request_id: str, timeout: float) -> ResultEvent:
        """The result of one request (:class:`ImageCompleted` or :class:`ImageFailed`)."""
        async for event in self.results([request_id], timeout):
            return event
        raise AssertionError("unreachable: results() yields or raises")

    async def output(self, result: ImageCompleted, index: int = 0) -> bytes:
        """The bytes of a completed request's output (its ``index``-th rendition)."""
        output = result.payload.outputs[index]
        return await self._retrying(
            lambda: asyncio.to_thread(self.store.get, output.bucket, output.key)
        )

    # Local files ------------------------------------------------------------------------

    async def submit_files(
        self,
        sources: Sequence[Path],
        out_dir: Path,
        options: RemovalOptions,
        *,
        timeout: float,
        account: str = "default",
        webhook_url: str | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        outputs: Sequence[Rendition] = (),
    ) -> list[Outcome]:
        """Submit every file (at most eight uploads at once) and save each result under
        ``out_dir`` as it completes, named as ``cutstream remove`` names them (further
        renditions beside it: ``<name>.<n>.<ext>``). Returns
        outcomes in completion order; :class:`SubmitTimeoutError` if some results do not
        arrive within ``timeout``."""
        if webhook_url is not None:
            await resolve(webhook_url, UrlPolicy.of(self.settings.urls))
        await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
        renditions = [rendition_options(options, rendition) for rendition in outputs]
        first = renditions[0] if renditions else options
        targets = local_targets(sources, out_dir, first.format.extension)
        slots = asyncio.Semaphore(_UPLOADS_AT_ONCE)  # bounds the input bytes held

        async def submit(source: Path) -> str:
            async with slots:
                request = await self._submit(
                    source, options, account, None, webhook_url, source.name, outputs
                )
                return request.request_id

        ids = await asyncio.gather(*(submit(source) for source, _ in targets))
        by_id = dict(zip(ids, targets, strict=True))
        outcomes = []
        async for event in self.results(by_id, timeout):
            source, target = by_id[event.request_id]
            saved = None
            if isinstance(event, ImageCompleted):
                for index, output in enumerate(event.payload.outputs):
                    place = target
                    if index:
                        place = target.with_name(f"{target.stem}.{index}.{output.extension}")
                    await asyncio.to_thread(place.write_bytes, await self.output(event, index))
                saved = target
            outcome = Outcome(source, event.request_id, event, saved)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return outcomes
