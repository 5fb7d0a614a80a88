"""What the processor agent does with one request event, independent of Faust.

``Processor.handle`` turns the raw bytes of a request into exactly one result event
(completed or failed, with an error code); the agent in :mod:`streams.app` publishes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import Executor

from pydantic import ValidationError

from processors import Remover
from schemas.errors import CutstreamError, ErrorCode
from schemas.events import ErrorInfo, ImageCompleted, ImageFailed, ImageRequested, S3Object
from streams.objectstore import ObjectStore

log = logging.getLogger(__name__)

Result = ImageCompleted | ImageFailed


def output_key(request: ImageRequested, extension: str) -> str:
    """Deterministic output key: a redelivered request overwrites, never duplicates."""
    return f"{request.request_id}.{extension}"


def _failed(request: ImageRequested, code: ErrorCode, message: str) -> ImageFailed:
    return ImageFailed(
        request_id=request.request_id,
        account=request.account,
        trace_id=request.trace_id,
        error=ErrorInfo(code=code, message=message),
    )


class Processor:
    """Fetches the input, removes the background, stores the output, reports the result.

    ``executor`` runs the CPU-bound image work off the event loop; object-store calls run
    in the default thread pool.
    """

    def __init__(
        self, store: ObjectStore, remover: Remover, output_bucket: str, executor: Executor
    ) -> None:
        self.store = store
        self.remover = remover
        self.output_bucket = output_bucket
        self.executor = executor

    async def handle(self, raw: bytes) -> Result | None:
        """Process one raw request. Returns ``None`` only for bytes that carry no usable
        request id (nothing to report against); every request with an id gets a result."""
        try:
            request = ImageRequested.model_validate_json(raw)
        except ValidationError as exc:
            return self._invalid(raw, exc)
        started = time.perf_counter()
        try:
            return await self._process(request, started)
        except CutstreamError as exc:
            log.warning("request %s failed: %s", request.request_id, exc)
            return _failed(request, exc.code, exc.message)
        except Exception as exc:
            log.exception("request %s failed unexpectedly", request.request_id)
            return _failed(request, ErrorCode.INTERNAL_ERROR, f"internal error: {exc!r}")

    async def _process(self, request: ImageRequested, started: float) -> ImageCompleted:
        data = await asyncio.to_thread(self.store.get, request.input.bucket, request.input.key)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            self.executor, self.remover.remove, data, request.options
        )
        key = output_key(request, result.extension)
        await asyncio.to_thread(
            self.store.put, self.output_bucket, key, result.data, result.content_type
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info("request %s completed in %.0f ms", request.request_id, elapsed_ms)
        return ImageCompleted(
            request_id=request.request_id,
            account=request.account,
            trace_id=request.trace_id,
            output=S3Object(bucket=self.output_bucket, key=key),
            content_type=result.content_type,
            width=result.width,
            height=result.height,
            processing_ms=elapsed_ms,
        )

    @staticmethod
    def _invalid(raw: bytes, exc: ValidationError) -> ImageFailed | None:
        """A schema-violating request: report it against its id if it has a valid one."""
        try:
            candidate = json.loads(raw)
            request_id = candidate["request_id"] if isinstance(candidate, dict) else None
            failed = ImageFailed(
                request_id=request_id,
                error=ErrorInfo(
                    code=ErrorCode.INVALID_REQUEST,
                    message=f"request violates the schema: {exc.error_count()} error(s): "
                    + "; ".join(
                        f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                    ),
                ),
            )
        except (ValueError, KeyError, TypeError, ValidationError):
            log.error("dropping unparseable message without a request id: %.200r", raw)
            return None
        log.warning("request %s is invalid: %s", request_id, failed.error.message)
        return failed
