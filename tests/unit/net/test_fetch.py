"""Fetching URL inputs from a real HTTP server on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from processors.exceptions import ImageTooLargeError
from schemas.errors import ErrorCode
from streams.net.fetch import Fetcher, FetchLimits, InputFetchError
from streams.net.urlguard import UrlNotAllowedError, UrlPolicy
from tests.httpserver import Handler, Route, Server, serve
from tests.images import photo_jpeg

IMAGE = photo_jpeg("coffee")


def chunked_big(handler: Handler) -> None:
    handler.send_response(200)
    handler.end_headers()  # no Content-Length: the cap must hold while streaming
    for _ in range(100):
        handler.wfile.write(b"x" * 10_000)


def slow(handler: Handler) -> None:
    time.sleep(3)
    handler.reply(200, IMAGE)


ROUTES = {
    "/cup.jpg": lambda h: h.reply(200, IMAGE, {"Content-Type": "image/jpeg"}),
    "/gone": lambda h: h.reply(410),
    "/forbidden": lambda h: h.reply(403),
    "/broken": lambda h: h.reply(503),
    "/slow": slow,
    "/declared-big": lambda h: h.reply(200, b"x" * 10, {"Content-Length": "50000000"}),
    "/streamed-big": chunked_big,
    "/hop": lambda h: h.reply(302, headers={"Location": "/cup.jpg"}),
    "/to-metadata": lambda h: h.reply(302, headers={"Location": "http://169.254.169.254/"}),
    "/loop": lambda h: h.reply(302, headers={"Location": "/loop"}),
}


@pytest.fixture
def server() -> Iterator[Server]:
    with serve(ROUTES) as running:
        yield running


def fetcher(timeout: float = 5.0) -> Fetcher:
    return Fetcher(
        UrlPolicy(allow_http=True, allow_loopback=True),
        FetchLimits(max_bytes=500_000, timeout_s=timeout, max_redirects=3),
    )


async def test_fetches_the_image(server: Server) -> None:
    assert await fetcher().fetch(f"{server.url}/cup.jpg") == IMAGE
    method, path, headers, _ = server.requests[-1]
    assert (method, path) == ("GET", "/cup.jpg")
    assert headers["Host"] == server.url.removeprefix("http://")


async def test_follows_a_redirect_and_checks_it(server: Server) -> None:
    assert await fetcher().fetch(f"{server.url}/hop") == IMAGE
    with pytest.raises(UrlNotAllowedError):
        await fetcher().fetch(f"{server.url}/to-metadata")
    with pytest.raises(InputFetchError, match="redirects"):
        await fetcher().fetch(f"{server.url}/loop")


@pytest.mark.parametrize(
    ("path", "code", "retryable"),
    [
        ("/gone", ErrorCode.INPUT_NOT_FOUND, False),
        ("/missing", ErrorCode.INPUT_NOT_FOUND, False),
        ("/forbidden", ErrorCode.INPUT_FETCH_FAILED, False),
        ("/broken", ErrorCode.INPUT_FETCH_FAILED, True),
    ],
)
async def test_http_errors(server: Server, path: str, code: ErrorCode, retryable: bool) -> None:
    with pytest.raises(InputFetchError) as caught:
        await fetcher().fetch(server.url + path)
    assert caught.value.code is code
    assert caught.value.retryable is retryable


async def test_slow_server_times_out_as_a_transient_error(server: Server) -> None:
    with pytest.raises(InputFetchError, match="time") as caught:
        await fetcher(timeout=0.5).fetch(f"{server.url}/slow")
    assert caught.value.retryable


@pytest.mark.parametrize("path", ["/declared-big", "/streamed-big"])
async def test_byte_cap_holds_with_and_without_content_length(server: Server, path: str) -> None:
    with pytest.raises(ImageTooLargeError) as caught:
        await fetcher().fetch(server.url + path)
    assert caught.value.code is ErrorCode.IMAGE_TOO_LARGE


async def test_unreachable_host_is_transient() -> None:
    with pytest.raises(InputFetchError) as caught:
        await fetcher().fetch("http://127.0.0.1:9/x.jpg")
    assert caught.value.retryable


async def test_loopback_is_refused_without_the_development_setting(server: Server) -> None:
    strict = Fetcher(UrlPolicy(allow_http=True), FetchLimits())
    with pytest.raises(UrlNotAllowedError):
        await strict.fetch(f"{server.url}/cup.jpg")


def test_retry_after_reads_seconds_and_dates() -> None:
    from datetime import UTC, datetime

    from streams.net.headers import retry_after_s

    now = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)
    assert retry_after_s("3", now) == 3.0
    assert retry_after_s("Sun, 22 Nov 2026 08:00:05 GMT", now) == 5.0
    assert retry_after_s("soon", now) is None
    assert retry_after_s(None, now) is None


class Throttling:
    """Answers 429 with Retry-After: 1 to the first ``refusals`` requests, then the image;
    counts how many requests it has running at once."""

    def __init__(self, refusals: int, retry_after: str = "1", hold_s: float = 0.0) -> None:
        import threading

        self.refusals = refusals
        self.retry_after = retry_after
        self.hold_s = hold_s
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def __call__(self, handler: Handler) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            refuse = self.refusals > 0
            self.refusals -= 1
        try:
            time.sleep(self.hold_s)
            if refuse:
                handler.reply(429, headers={"Retry-After": self.retry_after})
            else:
                handler.reply(200, IMAGE)
        finally:
            with self.lock:
                self.running -= 1


async def test_a_429_with_retry_after_is_waited_out_and_asked_again() -> None:
    host = Throttling(refusals=2)
    with serve({"/img": host}) as server:
        started = time.monotonic()
        assert await fetcher().fetch(f"{server.url}/img") == IMAGE
        assert time.monotonic() - started >= 2.0  # two waits of Retry-After: 1
        assert len(server.requests) == 3


async def test_a_longer_retry_after_becomes_a_retryable_failure() -> None:
    host = Throttling(refusals=1, retry_after="3600")
    with serve({"/img": host}) as server:
        with pytest.raises(InputFetchError) as caught:
            await fetcher().fetch(f"{server.url}/img")
        assert caught.value.retryable
        assert caught.value.retry_after_s == 3600
        assert len(server.requests) == 1


async def test_at_most_max_per_host_fetches_run_against_one_host() -> None:
    import asyncio

    host = Throttling(refusals=0, hold_s=0.2)
    polite = Fetcher(
        UrlPolicy(allow_http=True, allow_loopback=True), FetchLimits(timeout_s=5, max_per_host=2)
    )
    with serve({"/img": host}) as server:
        await asyncio.gather(*(polite.fetch(f"{server.url}/img") for _ in range(6)))
    assert host.most == 2
    assert polite._hosts == {}  # idle hosts are forgotten


async def test_chunks_stream_a_file_and_check_its_status(server: Server) -> None:
    routes: dict[str, Route] = {
        "/m.csv": lambda h: h.reply(200, b"sku,url\na,1\nb,2\n"),
        "/gone.csv": lambda h: h.reply(404, b"no"),
    }
    with serve(routes) as text:
        body = b"".join([chunk async for chunk in fetcher().chunks(f"{text.url}/m.csv")])
        with pytest.raises(InputFetchError) as caught:
            _ = [chunk async for chunk in fetcher().chunks(f"{text.url}/gone.csv")]
    assert body == b"sku,url\na,1\nb,2\n"
    assert (caught.value.code, caught.value.retryable) == ("input_not_found", False)
