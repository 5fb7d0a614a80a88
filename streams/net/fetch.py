"""Fetch an input image (or stream a manifest) from a URL: guarded, time-limited,
size-capped while streaming, polite to the host.

Every hop (redirects are followed by hand, at most ``max_redirects``) is checked by the URL
guard and connected to by its checked address, with the original host in the ``Host``
header and as the TLS server name, so certificates are still verified for that host.

Politeness: at most ``max_per_host`` fetches run at once against one host (per process);
a host that answers 429 or 503 with a ``Retry-After`` of at most ``max_retry_after_s`` is
waited out (holding its slot, so the host is not asked by anyone else meanwhile) and asked
again, twice at most; otherwise the answer is a retryable failure for the retry topics.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from processors.exceptions import ImageTooLargeError
from schemas.errors import CutstreamError, ErrorCode
from streams.net.headers import retry_after_s
from streams.net.urlguard import UrlPolicy, resolve

_NOT_FOUND = frozenset({404, 410})
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_THROTTLING_STATUS = frozenset({429, 503})
_THROTTLED_TRIES = 3


class InputFetchError(CutstreamError):
    """The URL did not give us the image; ``retryable`` says whether trying later may;
    ``retry_after_s`` is what the host asked for, if it did."""

    code = ErrorCode.INPUT_FETCH_FAILED

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: ErrorCode | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 20 * 1024 * 1024
    timeout_s: float = 15.0
    max_redirects: int = 3
    max_per_host: int = 4
    max_retry_after_s: float = 30.0


class Fetcher:
    """Downloads images for URL inputs. One instance per process (it pools connections)."""

    def __init__(self, policy: UrlPolicy, limits: FetchLimits) -> None:
        self.policy = policy
        self.limits = limits
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(limits.timeout_s),
            follow_redirects=False,
            headers={"User-Agent": "cutstream/0.1 (+input fetcher)"},
        )
        self._hosts: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def _host_slot(self, url: str) -> AsyncIterator[None]:
        """One of the host's ``max_per_host`` slots (the table keeps only busy hosts)."""
        host = (urlsplit(url).hostname or "").lower()
        slots, users = self._hosts.get(host, (asyncio.Semaphore(self.limits.max_per_host), 0))
        self._hosts[host] = (slots, users + 1)
        try:
            async with slots:
                yield
        finally:
            slots, users = self._hosts[host]
            if users == 1:
                del self._hosts[host]
            else:
                self._hosts[host] = (slots, users - 1)

    async def fetch(self, url: str) -> bytes:
        """The body at ``url``. Raises :class:`InputFetchError`, the guard's errors, or
        :class:`ImageTooLargeError` (as soon as the cap is passed, not after)."""
        async with self._host_slot(url):
            for tries in range(1, _THROTTLED_TRIES + 1):
                try:
                    return await self._fetch_once(url)
                except InputFetchError as exc:
                    wait = exc.retry_after_s
                    if (
                        tries == _THROTTLED_TRIES
                        or wait is None
                        or wait > self.limits.max_retry_after_s
                    ):
                        raise
                    await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last try returns or raises")

    async def _fetch_once(self, url: str) -> bytes:
        try:
            async with asyncio.timeout(self.limits.timeout_s * (self.limits.max_redirects + 1)):
                async with self._open(url) as response:
                    return await self._read_capped(url, response)
        except TimeoutError:
            raise InputFetchError(f"fetching {url} timed out", retryable=True) from None

    async def chunks(self, url: str) -> AsyncIterator[bytes]:
        """The body at ``url`` as it arrives (a manifest: never whole; the caller caps it).
        Raises like :meth:`fetch`; a connection that breaks midway is retryable."""
        async with self._host_slot(url), self._open(url) as response:
            try:
                async for chunk in response.aiter_bytes():
                    yield chunk
            except httpx.HTTPError as exc:
                raise InputFetchError(f"reading {url} failed: {exc}", retryable=True) from None

    @contextlib.asynccontextmanager
    async def _open(self, url: str) -> AsyncIterator[httpx.Response]:
        """The response of ``url`` after its redirects, its status checked."""
        for _ in range(self.limits.max_redirects + 1):
            target = await resolve(url, self.policy)
            request = self.client.build_request(
                "GET",
                target.pinned_url(),
                headers={"Host": target.host_header},
                extensions={"sni_hostname": target.host},
            )
            try:
                response = await self.client.send(request, stream=True)
            except httpx.TimeoutException:
                raise InputFetchError(f"{url} did not answer in time", retryable=True) from None
            except httpx.HTTPError as exc:
                raise InputFetchError(f"cannot fetch {url}: {exc}", retryable=True) from None
            try:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                self._check_status(url, response)
                yield response
                return
            finally:
                await response.aclose()
        raise InputFetchError(f"more than {self.limits.max_redirects} redirects", retryable=False)

    @staticmethod
    def _check_status(url: str, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        if status in _NOT_FOUND:
            raise InputFetchError(
                f"{url} answered {status}", retryable=False, code=ErrorCode.INPUT_NOT_FOUND
            )
        wait = (
            retry_after_s(response.headers.get("retry-after"))
            if status in _THROTTLING_STATUS
            else None
        )
        raise InputFetchError(
            f"{url} answered HTTP {status}",
            retryable=status in _RETRYABLE_STATUS,
            retry_after_s=wait,
        )

    async def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        cap = self.limits.max_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise ImageTooLargeError(f"{url} is {int(declared):,} bytes; the limit is {cap:,}")
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > cap:
                    raise ImageTooLargeError(f"{url} is larger than the limit of {cap:,} bytes")
        except httpx.HTTPError as exc:
            raise InputFetchError(f"reading {url} failed: {exc}", retryable=True) from None
        return bytes(body)
