"""Standard Webhooks signatures: what receivers verify with the reference library."""

from __future__ import annotations

import base64
import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from lro.webhooks.signing import generate_secret, headers_for, parse_secrets, secret_key, sign

BODY = '{"type":"job.completed","timestamp":"2024-05-01T12:00:00Z","data":{"job_id":"j1"}}'


def test_generated_secrets_are_whsec_and_32_random_bytes() -> None:
    a, b = generate_secret(), generate_secret()
    assert a.startswith("whsec_") and a != b
    assert len(base64.b64decode(a.removeprefix("whsec_"))) == 32
    assert len(secret_key(a)) == 32
    assert parse_secrets(a) == [a]


def test_each_of_two_rotating_secrets_verifies_the_same_message() -> None:
    new, old = generate_secret(), generate_secret()
    headers = headers_for("msg_2b7e", int(time.time()), BODY, [new, old])
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == "msg_2b7e"
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    for secret in (new, old):
        assert Webhook(secret).verify(BODY, headers) == {
            "type": "job.completed",
            "timestamp": "2024-05-01T12:00:00Z",
            "data": {"job_id": "j1"},
        }
        assert Webhook(secret).verify(BODY.encode(), headers) is not None
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(BODY.replace("j1", "j2"), headers)


def test_the_newest_secret_signs_first_and_matches_the_library() -> None:
    new, old = generate_secret(), generate_secret()
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    expected = [Webhook(s).sign("msg_1", when, BODY) for s in (new, old)]
    assert sign("msg_1", when, BODY, [new, old]) == " ".join(expected)
    # Unix seconds, an aware datetime in another zone and a naive UTC one sign alike.
    other_zone = when.astimezone(timezone(timedelta(hours=-7)))
    naive = when.replace(tzinfo=None)
    for ts in (int(when.timestamp()), other_zone, naive):
        assert sign("msg_1", ts, BODY, [new, old]) == " ".join(expected)
    assert headers_for("msg_1", other_zone, BODY, [new])["webhook-timestamp"] == "1714564800"


def test_parse_secrets_splits_on_spaces_and_commas_newest_first() -> None:
    a, b, c = generate_secret(), generate_secret(), generate_secret()
    assert parse_secrets(f" {a}, {b}\n{c} ,{a} ") == [a, b, c]
    assert parse_secrets("") == [] and parse_secrets(" , ") == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "must start with 'whsec_'"),
        ("whsec_!!!not-base64!!!", "must be 'whsec_' + base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes of key, this one holds 5"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "this one holds 65"),
        ("whsec_", "this one holds 0"),
    ],
)
def test_a_malformed_secret_is_a_clear_value_error(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_secrets(f"{generate_secret()} {value}")
    with pytest.raises(ValueError, match=re.escape(message)):
        sign("msg_1", 0, BODY, [value])


def test_unpadded_base64_is_accepted_like_the_library_does() -> None:
    key = bytes(range(25))
    unpadded = "whsec_" + base64.b64encode(key).decode().rstrip("=")
    assert secret_key(unpadded) == key
    headers = headers_for("msg_1", int(time.time()), BODY, [unpadded])
    assert Webhook(unpadded).verify(BODY, headers)


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="no webhook secret"):
        sign("msg_1", 0, BODY, [])
