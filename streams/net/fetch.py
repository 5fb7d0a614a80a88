"""Fetch an input image from a URL: guarded, time-limited, size-capped while streaming.

Every hop (redirects are followed by hand, at most ``max_redirects``) is checked by the URL
guard and connected to by its checked address, with the original host in the ``Host``
header and as the TLS server name, so certificates are still verified for that host.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from processors.exceptions import ImageTooLargeError
from schemas.errors import CutstreamError, ErrorCode
from streams.net.urlguard import UrlPolicy, resolve

_NOT_FOUND = frozenset({404, 410})
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class InputFetchError(CutstreamError):
    """The URL did not give us the image; ``retryable`` says whether trying later may."""

    code = ErrorCode.INPUT_FETCH_FAILED

    def __init__(self, message: str, *, retryable: bool, code: ErrorCode | None = None) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 20 * 1024 * 1024
    timeout_s: float = 15.0
    max_redirects: int = 3


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

    async def fetch(self, url: str) -> bytes:
        """The body at ``url``. Raises :class:`InputFetchError`, the guard's errors, or
        :class:`ImageTooLargeError` (as soon as the cap is passed, not after)."""
        try:
            async with asyncio.timeout(self.limits.timeout_s * (self.limits.max_redirects + 1)):
                return await self._fetch(url)
        except TimeoutError:
            raise InputFetchError(f"fetching {url} timed out", retryable=True) from None

    async def _fetch(self, url: str) -> bytes:
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
                self._check_status(url, response.status_code)
                return await self._read_capped(url, response)
            finally:
                await response.aclose()
        raise InputFetchError(f"more than {self.limits.max_redirects} redirects", retryable=False)

    @staticmethod
    def _check_status(url: str, status: int) -> None:
        if status == 200:
            return
        if status in _NOT_FOUND:
            raise InputFetchError(
                f"{url} answered {status}", retryable=False, code=ErrorCode.INPUT_NOT_FOUND
            )
        raise InputFetchError(
            f"{url} answered HTTP {status}", retryable=status in _RETRYABLE_STATUS
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
