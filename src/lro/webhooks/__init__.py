"""Webhook delivery building blocks: the SSRF guard (`ssrf`), Standard Webhooks signatures
(`signing`) and one delivery attempt (`sender`). The dispatcher (outbox loop) uses them."""

from lro.webhooks.sender import AttemptResult, parse_retry_after, send
from lro.webhooks.signing import generate_secret, headers_for, parse_secrets, secret_key, sign
from lro.webhooks.ssrf import (
    ResolvedAddress,
    Resolver,
    TargetPolicy,
    TargetRefused,
    check_url,
    classify,
    system_resolver,
)

__all__ = [
    "AttemptResult",
    "ResolvedAddress",
    "Resolver",
    "TargetPolicy",
    "TargetRefused",
    "check_url",
    "classify",
    "generate_secret",
    "headers_for",
    "parse_retry_after",
    "parse_secrets",
    "secret_key",
    "send",
    "sign",
    "system_resolver",
]
