"""Fetching URL inputs from a real HTTP server on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from processors.exceptions import ImageTooLargeError
from schemas.errors import ErrorCode
from streams.net.fetch import Fetcher, FetchLimits, InputFetchError
from streams.net.urlguard import UrlNotAllowedError, UrlPolicy
from tests.httpserver import Handler, Server, serve
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
