"""Standard Webhooks signing — and verification, for receivers written in Python.

Every delivery carries:

- ``webhook-id``: stable across retries of the same notification (deduplicate on it);
- ``webhook-timestamp``: integer Unix seconds when this attempt was signed;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` over ``"{id}.{timestamp}.{body}"``,
  one space-separated entry per active secret (several during a rotation).

Secrets look like ``whsec_<base64 key>``. A receiver checks a delivery with::

    from streams.notifier.signing import verify
    verify(request_body, request_headers, ["whsec_..."])   # raises WebhookVerificationError

See docs/webhooks.md for the same check in other languages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence

from schemas.errors import CutstreamError
from schemas.webhooks import SECRET_PREFIX, secret_key

DEFAULT_TOLERANCE_S = 300


class WebhookVerificationError(CutstreamError):
    """The delivery is not authentic, or too old or too new to be trusted."""


def generate_secret() -> str:
    """A new random signing secret (24 random bytes, as the reference libraries do)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,…`` signature of ``body`` for ``webhook_id`` at ``timestamp``."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    secrets_: Sequence[str], webhook_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret in ``secrets_``."""
    if not secrets_:
        raise ValueError("no webhook signing secret configured")
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, webhook_id, timestamp, body) for s in secrets_),
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets_: Sequence[str],
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Check a received delivery against any of ``secrets_``.

    ``headers`` may use any letter case. Raises :class:`WebhookVerificationError` when a
    header is missing, the timestamp is more than ``tolerance_s`` away from now (replay
    protection), or no signature matches.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        webhook_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        offered = lowered["webhook-signature"].split()
    except (KeyError, ValueError) as exc:
        raise WebhookVerificationError(f"missing or malformed webhook header: {exc}") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError("the webhook timestamp is outside the tolerance")
    for secret in secrets_:
        expected = sign(secret, webhook_id, timestamp, body)
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return
    raise WebhookVerificationError("no webhook signature matches")
