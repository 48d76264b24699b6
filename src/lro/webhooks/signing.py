"""Standard Webhooks signatures (https://www.standardwebhooks.com), by the reference library.

The receiver checks `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with its copy of the
secret. While secrets rotate, every message carries one signature per active secret, so
receivers holding either the old or the new secret keep verifying.

Secrets are `whsec_` + base64 of 24 to 64 random bytes. `LRO_WEBHOOK_SECRET` may hold
several, newest first, separated by spaces or commas.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from secrets import token_bytes

from standardwebhooks import Webhook

PREFIX = "whsec_"
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_` secret; ValueError saying what is wrong with it.

    The library itself decodes leniently (invalid characters are skipped), so a typo
    would silently sign with another key; this check is strict instead.
    """
    if not secret.startswith(PREFIX):
        raise ValueError(f"a webhook secret must start with {PREFIX!r}")
    encoded = secret[len(PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError(f"a webhook secret must be {PREFIX!r} + base64; this one is not") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ValueError(
            f"a webhook secret must hold {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes of key, "
            f"this one holds {len(key)}"
        )
    return key


def parse_secrets(value: str) -> list[str]:
    """The secrets in a setting, newest first, each validated (ValueError otherwise).
    A blank value gives an empty list: no secret configured."""
    found: list[str] = []
    for secret in re.split(r"[\s,]+", value.strip()):
        if secret and secret not in found:
            secret_key(secret)
            found.append(secret)
    return found


def generate_secret() -> str:
    """A new random secret (32 bytes), for when none is configured."""
    return PREFIX + base64.b64encode(token_bytes(32)).decode("ascii")


def _as_datetime(timestamp: int | float | datetime) -> datetime:
    if isinstance(timestamp, datetime):
        # The library reads the datetime's wall clock as UTC, so hand it a UTC one.
        return timestamp.astimezone(UTC) if timestamp.tzinfo else timestamp
    return datetime.fromtimestamp(timestamp, tz=UTC)


def sign(msg_id: str, timestamp: int | float | datetime, body: str, secrets: Sequence[str]) -> str:
    """The `webhook-signature` value: `v1,<sig>` per secret, space-separated.

    `timestamp` is Unix seconds or a datetime (naive ones are taken as UTC); it must be
    the same value sent in `webhook-timestamp`. `body` is the exact text sent.
    """
    if not secrets:
        raise ValueError("no webhook secret to sign with")
    when = _as_datetime(timestamp)
    return " ".join(Webhook(secret_key(s)).sign(msg_id, when, body) for s in secrets)


def headers_for(
    msg_id: str, timestamp: int | float | datetime, body: str, secrets: Sequence[str]
) -> dict[str, str]:
    """The three Standard Webhooks headers for one message. `msg_id` stays the same
    across retries (receivers de-duplicate on it); the timestamp is the attempt's."""
    seconds = int(_as_datetime(timestamp).replace(tzinfo=UTC).timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": sign(msg_id, seconds, body, secrets),
    }
