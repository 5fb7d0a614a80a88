"""Our signatures against the Standard Webhooks reference library, both directions."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks import WebhookVerificationError as ReferenceError

from schemas.webhooks import secret_key
from streams.notifier.signing import (
    WebhookVerificationError,
    generate_secret,
    sign,
    signed_headers,
    verify,
)

SECRET = generate_secret()
BODY = json.dumps({"type": "image.completed", "data": {"request_id": "r-1"}}).encode()


def test_the_reference_library_accepts_our_deliveries() -> None:
    headers = signed_headers([SECRET], "msg_r1", BODY)
    assert Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)


def test_we_accept_the_reference_librarys_signature() -> None:
    timestamp = datetime.now(UTC)
    signature = Webhook(SECRET).sign("msg_r1", timestamp, BODY.decode())
    headers = {
        "Webhook-Id": "msg_r1",
        "Webhook-Timestamp": str(int(timestamp.timestamp())),
        "Webhook-Signature": signature,
    }
    verify(BODY, headers, [SECRET])


def test_the_spec_test_vector() -> None:
    # From the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_rotation_signs_with_every_active_secret() -> None:
    old, new = generate_secret(), generate_secret()
    headers = signed_headers([new, old], "msg_r1", BODY)
    assert len(headers["webhook-signature"].split()) == 2
    verify(BODY, headers, [old])  # receivers not yet rotated
    verify(BODY, headers, [new])
    Webhook(old).verify(BODY, headers)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda h, b: (h, b + b" "), "signature"),
        (lambda h, b: ({**h, "webhook-id": "msg_other"}, b), "signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), "header"),
        (lambda h, b: ({**h, "webhook-timestamp": str(int(time.time()) - 3600)}, b), "tolerance"),
    ],
)
def test_tampered_or_stale_deliveries_are_refused(tamper: object, reason: str) -> None:
    headers, body = tamper(signed_headers([SECRET], "msg_r1", BODY), BODY)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError, match=reason):
        verify(body, headers, [SECRET])
    with pytest.raises(ReferenceError):
        Webhook(SECRET).verify(body, headers)


def test_wrong_secret_is_refused() -> None:
    headers = signed_headers([SECRET], "msg_r1", BODY)
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(BODY, headers, [generate_secret()])


@pytest.mark.parametrize("bad", ["secret", "whsec_!!!", "whsec_c2hvcnQ="])
def test_malformed_secrets_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match=r"secret|base64"):
        secret_key(bad)
