"""The URL guard: outbound requests (input fetches, webhooks) go only to public hosts.

Shared by the input fetcher and the webhook notifier. A URL passes when its scheme is
https (http only with ``allow_http``), it carries no credentials, and *every* address its
host resolves to is public: not loopback (unless ``allow_loopback``, for tests and local
development), private, link-local (cloud metadata at 169.254.169.254 included), CGNAT,
``0.0.0.0/8``, multicast, reserved or documentation ranges, IPv6 unique-local, and not an
IPv6 address that embeds IPv4 (mapped, compatible, NAT64, 6to4, Teredo).

The caller then connects to the address that was checked (:meth:`Target.pinned_url`), never
resolving the name again, so a DNS answer that changes between check and use (rebinding)
cannot redirect the request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from schemas.errors import CutstreamError, ErrorCode
from streams.config.settings import UrlSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DENIED: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(network), label)
    for network, label in (
        ("0.0.0.0/8", "'this network'"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local / cloud metadata"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped IPv6"),
        ("::/96", "IPv4-compatible IPv6"),
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "local NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)


class UrlNotAllowedError(CutstreamError):
    """The URL may not be called: wrong scheme, credentials, or a non-public address."""

    code = ErrorCode.URL_NOT_ALLOWED


class UrlUnresolvableError(CutstreamError):
    """The host name does not resolve (now); it may later."""

    code = ErrorCode.INPUT_FETCH_FAILED
    retryable = True


@dataclass(frozen=True)
class UrlPolicy:
    """What the guard lets through beyond public HTTPS."""

    allow_http: bool = False
    allow_loopback: bool = False

    @classmethod
    def of(cls, urls: UrlSettings) -> UrlPolicy:
        """The policy the ``urls`` settings describe."""
        return cls(urls.allow_http, urls.allow_loopback)


@dataclass(frozen=True)
class Target:
    """A checked URL and the public addresses its host resolved to."""

    url: str
    parts: SplitResult
    host: str
    port: int
    addresses: tuple[IPAddress, ...]

    @property
    def host_header(self) -> str:
        default = 443 if self.parts.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def pinned_url(self, address: IPAddress | None = None) -> str:
        """The URL with its host replaced by a checked address (the first by default)."""
        chosen = address or self.addresses[0]
        literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
        netloc = f"{literal}:{self.port}"
        return urlunsplit((self.parts.scheme, netloc, self.parts.path or "/", self.parts.query, ""))


def refusal(address: IPAddress, policy: UrlPolicy) -> str | None:
    """Why ``address`` may not be called, or ``None`` if it may."""
    if address.is_loopback and policy.allow_loopback:
        return None
    for network, label in _DENIED:
        if address.version == network.version and address in network:
            return f"{address} is {label} ({network})"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def parse(url: str, policy: UrlPolicy) -> tuple[SplitResult, str, int]:
    """Static checks: scheme, credentials, host, port. Returns (parts, host, port)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlNotAllowedError(f"malformed URL: {exc}") from None
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in allowed:
        raise UrlNotAllowedError(f"the URL must use {' or '.join(allowed)}, not {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowedError("URLs with credentials (user:password@) are not allowed")
    host = parts.hostname
    if not host:
        raise UrlNotAllowedError("the URL has no host")
    if "%" in host:
        what = (
            "IPv6 addresses with a zone"
            if parts.netloc.startswith("[")
            else "percent-encoded host names"
        )
        raise UrlNotAllowedError(f"{what} are not allowed")
    return parts, host, port or (443 if parts.scheme == "https" else 80)


Resolver = Callable[[str, int], Awaitable[list[str]]]
"""(host, port) → the addresses it resolves to, as strings."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo``), without blocking the loop."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UrlUnresolvableError(f"cannot resolve {host}: {exc.strerror}") from None
    return [str(info[4][0]) for info in infos]


async def resolve(url: str, policy: UrlPolicy, resolver: Resolver = system_resolver) -> Target:
    """Check ``url`` and every address its host resolves to.

    Raises :class:`UrlNotAllowedError` (never call it) or :class:`UrlUnresolvableError`.
    """
    parts, host, port = parse(url, policy)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: tuple[IPAddress, ...] = (literal,)
    else:
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise UrlNotAllowedError(f"{host!r} is not a valid host name") from None
        answers = await resolver(ascii_host, port)
        addresses = tuple(
            dict.fromkeys(ipaddress.ip_address(answer.split("%", 1)[0]) for answer in answers)
        )
        if not addresses:
            raise UrlUnresolvableError(f"{host} has no addresses")
    for address in addresses:
        if reason := refusal(address, policy):
            raise UrlNotAllowedError(f"{host} resolves to a non-public address: {reason}")
    return Target(url, parts, host, port, addresses)
