"""The URL guard refuses every non-public destination, however it is spelled."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from schemas.errors import ErrorCode
from streams.net.urlguard import (
    UrlNotAllowedError,
    UrlPolicy,
    UrlUnresolvableError,
    resolve,
    system_resolver,
)

STRICT = UrlPolicy()
DEVELOPMENT = UrlPolicy(allow_http=True, allow_loopback=True)

FAKE_DNS = {
    "metadata.evil.example": ["169.254.169.254"],
    "intranet.evil.example": ["10.1.2.3"],
    "rebind.evil.example": ["93.184.215.14", "192.168.1.10"],  # one bad answer is enough
    "cgnat.evil.example": ["100.100.100.100"],
    "v6private.evil.example": ["fd12:3456:789a::1"],
    "mapped.evil.example": ["::ffff:10.0.0.1"],
    "nat64.evil.example": ["64:ff9b::a00:1"],
    "loop.evil.example": ["127.0.0.2"],
    "public.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
}


async def fake_resolver(host: str, port: int) -> list[str]:
    if host not in FAKE_DNS:
        raise UrlUnresolvableError(f"cannot resolve {host}")
    return FAKE_DNS[host]


HOSTILE = [
    # scheme and form
    "http://93.184.215.14/image.jpg",  # plain http
    "ftp://93.184.215.14/image.jpg",
    "file:///etc/passwd",
    "gopher://93.184.215.14/",
    "https://user:secret@93.184.215.14/",  # credentials
    "https:///no-host",
    "https://93.184.215.14:99999/",  # bad port
    # IPv4 literals
    "https://127.0.0.1/",
    "https://127.1.2.3/",
    "https://0.0.0.0/",
    "https://0.1.2.3/",
    "https://10.0.0.1/",
    "https://172.16.0.1/",
    "https://172.31.255.255/",
    "https://192.168.0.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://169.254.1.1/",
    "https://100.64.0.1/",
    "https://100.127.255.254/",
    "https://192.0.0.8/",
    "https://192.0.2.1/",
    "https://198.18.0.1/",
    "https://198.51.100.7/",
    "https://203.0.113.9/",
    "https://224.0.0.1/",
    "https://239.255.255.250/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    # other spellings of 127.0.0.1 (the system resolver reads them like inet_aton)
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0x7f.0.0.1/",
    "https://017700000001/",
    "https://0177.0.0.1/",
    "https://127.1/",
    "https://%31%32%37.0.0.1/",  # percent-encoded
    # IPv6 literals
    "https://[::1]/",
    "https://[::]/",
    "https://[fc00::1]/",
    "https://[fd00:ec2::254]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",  # with a zone
    "https://[ff02::1]/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "https://[::ffff:169.254.169.254]/",
    "https://[::127.0.0.1]/",  # IPv4-compatible
    "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "https://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "https://[2001:db8::1]/",
    # names that resolve to non-public addresses
    "https://localhost/",
    "https://metadata.evil.example/",
    "https://intranet.evil.example/",
    "https://rebind.evil.example/",
    "https://cgnat.evil.example/",
    "https://v6private.evil.example/",
    "https://mapped.evil.example/",
    "https://nat64.evil.example/",
    "https://loop.evil.example/",
]


@pytest.mark.parametrize("url", HOSTILE)
async def test_hostile_urls_are_refused(url: str) -> None:
    uses_fake_dns = ".evil.example" in url
    resolver = fake_resolver if uses_fake_dns else system_resolver
    with pytest.raises(UrlNotAllowedError) as caught:
        await resolve(url, STRICT, resolver)
    assert caught.value.code is ErrorCode.URL_NOT_ALLOWED
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://%31%32%37.0.0.1/", "percent-encoded host names are not allowed"),
        ("https://[fe80::1%25eth0]/", "IPv6 addresses with a zone are not allowed"),
    ],
)
async def test_percent_signs_in_the_host_are_named_for_what_they_are(
    url: str, message: str
) -> None:
    with pytest.raises(UrlNotAllowedError, match=message):
        await resolve(url, STRICT, system_resolver)


def test_the_table_is_long_enough() -> None:
    assert len(HOSTILE) >= 40


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14/image.jpg",
        "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/x.png",
        "https://public.example/a/b.jpg?size=large",
        "https://public.example:8443/x",
    ],
)
async def test_public_https_urls_pass_and_are_pinned(url: str) -> None:
    target = await resolve(url, STRICT, fake_resolver)
    pinned = httpx.URL(target.pinned_url())
    assert ipaddress.ip_address(pinned.host) in target.addresses
    assert pinned.scheme == "https"
    assert pinned.path == target.parts.path


async def test_pinned_url_keeps_path_query_and_port() -> None:
    target = await resolve("https://public.example:8443/a/b.jpg?x=1", STRICT, fake_resolver)
    assert target.pinned_url() == "https://93.184.215.14:8443/a/b.jpg?x=1"
    assert target.host_header == "public.example:8443"


async def test_loopback_only_with_the_development_setting() -> None:
    with pytest.raises(UrlNotAllowedError):
        await resolve("http://127.0.0.1:8080/x.jpg", UrlPolicy(allow_http=True))
    target = await resolve("http://127.0.0.1:8080/x.jpg", DEVELOPMENT)
    assert target.pinned_url() == "http://127.0.0.1:8080/x.jpg"
    # the development setting opens loopback only, not private or metadata addresses
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://[fd00::1]/"):
        with pytest.raises(UrlNotAllowedError):
            await resolve(url, DEVELOPMENT)


async def test_unresolvable_host_is_a_transient_error() -> None:
    with pytest.raises(UrlUnresolvableError) as caught:
        await resolve("https://nowhere.evil.invalid/", STRICT, fake_resolver)
    assert caught.value.retryable
