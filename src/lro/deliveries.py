"""Webhook deliveries as the store keeps them: one row per (job, terminal event), and one
row per attempt to send it. Pure data; the dispatcher (lro.webhooks.dispatcher) decides
what an attempt's outcome means, the store only records it under a fence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit


def target_of(url: str) -> str:
    """The host and port a callback URL goes to: what per-target limits count."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = 443 if parts.scheme == "https" else 80
    return f"{(parts.hostname or '').lower()}:{port or default}"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its next attempt, or being sent (its next_attempt_at is then a lease)."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """The receiver answered 410 Gone, the target was refused, or the schedule ran out."""


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    attempt: int
    at: datetime
    status_code: int | None
    duration_ms: float
    error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    """The webhook-id: the same on every attempt, so receivers can de-duplicate."""
    job_id: str
    event_type: str
    url: str
    event_at: datetime
    status: DeliveryStatus
    attempts: int
    """Attempts started; a claim counts one before it is sent, and fences its outcome."""
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    manual: bool
    """A re-send asked for by hand: one attempt, then delivered or failed again."""
    history: tuple[DeliveryAttempt, ...] = field(default=())
    target: str = ""
    """`target_of(url)`, stored with the delivery so claims can skip busy targets."""


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """The outcome of attempt number `attempt` of a delivery, and what comes next."""

    delivery_id: str
    attempt: int
    at: datetime
    status_code: int | None
    duration_ms: float
    error: str | None
    status: DeliveryStatus
    next_attempt_at: datetime | None
