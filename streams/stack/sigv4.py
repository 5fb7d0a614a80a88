"""Checking AWS Signature Version 4 on the server side, as S3 does.

Two forms: the ``Authorization`` header (every SDK call) and the query string (presigned
URLs). The canonical request is rebuilt from what arrived — the path as sent, the query
re-encoded the AWS way, the signed headers — and signed with the one key pair the server
knows. Time is checked too: a header-signed request more than 15 minutes off, or a
presigned URL past its expiry, is refused.

The payload hash the client declares (``x-amz-content-sha256``) is part of what it signs;
the server does not re-hash the body to compare (it serves loopback only, where nothing
can change a body in flight, and hashing every upload would cost as much CPU as the
rest of the request).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW = timedelta(minutes=15)
MAX_EXPIRY_S = 7 * 24 * 3600
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$"
)
_SPACES = re.compile(r" +")


class SignatureError(Exception):
    """A request S3 would refuse: ``code`` is S3's error code; always a 403."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Request:
    """What of an HTTP request the signature covers."""

    method: str
    raw_path: str
    """The path as it arrived, still percent-encoded, without the query."""
    raw_query: str
    headers: Mapping[str, Sequence[str]]
    """Every value of each header, names lower-case."""


@lru_cache(maxsize=8)
def _signing_key(secret: str, day: str, region: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(raw_query: str, drop: str = "") -> str:
    pairs = []
    for item in raw_query.split("&") if raw_query else []:
        name, _, value = item.partition("=")
        name = unquote(name)
        if name != drop:
            pairs.append((_encode(name), _encode(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _parse_time(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureError("AccessDenied", f"not an AWS date: {text!r}") from exc


class Verifier:
    """Checks requests against one access key and secret."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self.access_key = access_key
        self.secret_key = secret_key

    def verify(self, request: Request, now: datetime | None = None) -> None:
        """Return if ``request`` is signed with this server's key and in time; else raise
        :class:`SignatureError`."""
        now = now or datetime.now(UTC)
        authorization = (request.headers.get("authorization") or [""])[0]
        # As MinIO: the header counts when it is a SigV4 one; a presigned URL fetched by a
        # client that sends its own Authorization (an API key, an empty one) still works.
        if authorization.startswith(ALGORITHM):
            self._verify_header(request, authorization, now)
        elif "X-Amz-Signature=" in request.raw_query:
            self._verify_query(request, now)
        elif authorization:
            raise SignatureError("AccessDenied", "only AWS Signature Version 4 is accepted")
        else:
            raise SignatureError("AccessDenied", "anonymous access is not allowed")

    def _verify_header(self, request: Request, authorization: str, now: datetime) -> None:
        match = _AUTHORIZATION.match(authorization.strip())
        if match is None:
            raise SignatureError("AccessDenied", "unsupported Authorization header")
        credential, signed_headers, signature = match.groups()
        stamp = (request.headers.get("x-amz-date") or request.headers.get("date") or [""])[0]
        moment = _parse_time(stamp)
        if abs(now - moment) > MAX_SKEW:
            raise SignatureError(
                "RequestTimeTooSkewed", "the request time is too far from the server's"
            )
        payload = (request.headers.get("x-amz-content-sha256") or [UNSIGNED_PAYLOAD])[0]
        query = canonical_query(request.raw_query)
        self._check(request, credential, signed_headers, signature, stamp, query, payload)

    def _verify_query(self, request: Request, now: datetime) -> None:
        params: dict[str, str] = {}
        for item in request.raw_query.split("&"):
            name, _, value = item.partition("=")
            params[unquote(name)] = unquote(value)
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise SignatureError("AccessDenied", "only AWS4-HMAC-SHA256 presigned URLs")
        try:
            stamp = params["X-Amz-Date"]
            expires = int(params["X-Amz-Expires"])
            credential = params["X-Amz-Credential"]
            signed_headers = params["X-Amz-SignedHeaders"]
            signature = params["X-Amz-Signature"]
        except (KeyError, ValueError) as exc:
            raise SignatureError("AuthorizationQueryParametersError", str(exc)) from exc
        if not 0 < expires <= MAX_EXPIRY_S:
            raise SignatureError("AuthorizationQueryParametersError", "X-Amz-Expires out of range")
        moment = _parse_time(stamp)
        if now > moment + timedelta(seconds=expires):
            raise SignatureError("AccessDenied", "Request has expired")
        if moment - now > MAX_SKEW:
            raise SignatureError("AccessDenied", "Request is not valid yet")
        query = canonical_query(request.raw_query, drop="X-Amz-Signature")
        self._check(request, credential, signed_headers, signature, stamp, query, UNSIGNED_PAYLOAD)

    def _check(
        self,
        request: Request,
        credential: str,
        signed_headers: str,
        signature: str,
        stamp: str,
        query: str,
        payload: str,
    ) -> None:
        access_key, _, scope = credential.partition("/")
        if access_key != self.access_key:
            raise SignatureError(
                "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist."
            )
        day, _, rest = scope.partition("/")
        region = rest.split("/", 1)[0]
        names = signed_headers.split(";")
        if "host" not in names:
            raise SignatureError("AccessDenied", "the Host header must be signed")
        lines = []
        for name in names:
            values = request.headers.get(name, [])
            joined = ",".join(_SPACES.sub(" ", value).strip() for value in values)
            lines.append(f"{name}:{joined}\n")
        canonical = "\n".join(
            [
                request.method,
                request.raw_path or "/",
                query,
                "".join(lines),
                signed_headers,
                payload,
            ]
        )
        to_sign = "\n".join(
            [ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key = _signing_key(self.secret_key, day, region)
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise SignatureError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
