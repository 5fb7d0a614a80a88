"""A conditional-write gate in front of rclone's S3 server: the embedded S3 endpoint.

S3, MinIO and most S3 stores honour conditional writes: ``If-None-Match: *`` creates only
what does not exist, ``If-Match: <etag>`` replaces only the version named, and ``412
Precondition Failed`` says the condition did not hold. rclone ignores both headers and
always writes. Two things depend on them: the embedded broker (Tansu advances a
partition's watermark with If-Match; without it, after a restart, offsets restarted at 0 and
acknowledged records were overwritten — measured, every restart) and the job records (the
first request under a request id wins, concurrent duplicates get 412).

The gate enforces the two preconditions — per key, serialised, checked with its own signed
HEAD. It also lets one request at a time at a key: rclone writes an object in place, so a
GET beside a PUT of the same key read part of each, and two GETs beside each other were
answered with a stale size or checksum (torn objects, an ERROR line in rclone's log each).
Requests pass through untouched otherwise (the ``Host`` header is kept, so
the client's SigV4 signature, presigned URLs included, still verifies upstream). Every
client of the embedded stack talks to it; it answers 503 while rclone is down.

Run: ``python -m streams.stack.s3gate --port PORT --upstream URL`` with the ``CUTSTREAM_S3__*``
credentials in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from streams.config.settings import Settings
from streams.exceptions import StorageUnavailableError
from streams.messaging.locks import KeyedLocks
from streams.storage.s3 import S3ObjectStore

log = logging.getLogger(__name__)

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
)
_PRECONDITION_FAILED = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>'
    "<Message>At least one of the pre-conditions you specified did not hold</Message></Error>"
)
_NO_SUCH_KEY = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>'
    "<Message>The specified key does not exist.</Message></Error>"
)
_UNAVAILABLE = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>'
    "<Message>The storage behind the gate is not answering; try again.</Message></Error>"
)


def _error(status: int, body: str) -> web.Response:
    # application/xml, as S3 answers: clients parse it into error codes (text/xml they do not).
    return web.Response(status=status, text=body, content_type="application/xml")


def _conditional(request: web.Request) -> bool:
    return "If-None-Match" in request.headers or "If-Match" in request.headers


def _unquote(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


class Gate:
    """Forwards to ``upstream``; enforces If-None-Match / If-Match on PUT."""

    def __init__(self, upstream: str, store: S3ObjectStore) -> None:
        self.upstream = upstream.rstrip("/")
        self.store = store
        self.locks = KeyedLocks()
        self.session: ClientSession | None = None

    async def start(self, app: web.Application) -> None:
        self.session = ClientSession(auto_decompress=False, timeout=ClientTimeout(total=120))

    async def stop(self, app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    async def current_etag(self, path: str) -> str | None:
        """The ETag of the object at ``/bucket/key``, or None if there is none."""
        bucket, _, key = path.lstrip("/").partition("/")
        return await asyncio.to_thread(self.store.etag, bucket, key)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # One request at a time per key (the module's docstring says why); the parts of a
        # multipart upload are not the object yet.
        if request.method == "PUT" and "uploadId" in request.query:
            return await self.forward(request)
        async with self.locks.hold(request.path):
            if request.method != "PUT" or not _conditional(request):
                return await self.forward(request)
            try:
                etag = await self.current_etag(request.path)
            except StorageUnavailableError:
                return _error(503, _UNAVAILABLE)
            if_none_match = request.headers.get("If-None-Match")
            if_match = request.headers.get("If-Match")
            if if_none_match is not None and if_none_match.strip() == "*" and etag is not None:
                return _error(412, _PRECONDITION_FAILED)
            if if_match is not None:
                if etag is None:
                    return _error(404, _NO_SUCH_KEY)
                if _unquote(if_match) != etag:
                    return _error(412, _PRECONDITION_FAILED)
            return await self.forward(request)

    async def forward(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            async with self.session.request(
                request.method,
                self.upstream + request.path_qs,
                headers=headers,
                data=body or None,  # a GET with an empty body makes rclone log an error
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                reply_headers = {
                    k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP
                }
                if request.method == "HEAD":
                    # A HEAD answer has no body but tells the object's size.
                    length = upstream.headers.get("Content-Length")
                    if length is not None:
                        reply_headers["Content-Length"] = length
                    return web.Response(status=upstream.status, headers=reply_headers)
                return web.Response(status=upstream.status, body=payload, headers=reply_headers)
        except (ClientError, TimeoutError) as exc:
            log.warning("upstream %s: %s", self.upstream, exc)
            return _error(503, _UNAVAILABLE)


def application(settings: Settings, upstream: str) -> web.Application:
    gate = Gate(upstream, S3ObjectStore(settings, retries=0, endpoint_url=upstream))
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.on_startup.append(gate.start)
    app.on_cleanup.append(gate.stop)
    app.router.add_route("*", "/{tail:.*}", gate.handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="URL of the S3 server behind")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(application(Settings(), args.upstream), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
