"""Retry decisions and backoff: pure functions, so every rule is testable without a clock.

Backoff uses "full jitter" (delay drawn uniformly from 0 to the exponential ceiling): when a
dependency fails, many jobs fail at once, and spreading their retries over the whole window
keeps them from hammering it again in lock-step.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

_MAX_EXPONENT = 62
"""2**62 already dwarfs any cap; bounding the exponent keeps float maths finite."""


def backoff_ceiling(attempt: int, base: float, cap: float) -> float:
    """The largest delay after failed attempt number `attempt` (1-based): base * 2**(attempt-1),
    never above `cap`."""
    if base <= 0 or cap <= 0:
        return 0.0
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    return min(cap, base * 2.0**exponent)


def backoff_seconds(
    attempt: int,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retrying after failed attempt `attempt`, with full jitter.

    `rand` returns a float in [0, 1); tests pass a fixed one to pin the value.
    """
    return backoff_ceiling(attempt, base, cap) * rand()


def retry_at(
    now: datetime,
    attempt: int,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> datetime:
    """When the next attempt may start."""
    return now + timedelta(seconds=backoff_seconds(attempt, base, cap, rand))


def should_retry(attempt: int, max_attempts: int, retryable: bool) -> bool:
    """Retry a failed attempt only when the error allows it and attempts remain.

    `attempt` is the 1-based number of the attempt that just failed.
    """
    return retryable and attempt < max_attempts


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a job's next attempt may start, whichever way its last one went wrong: the one
    rule the worker applies to a failed attempt and the store applies to a lost lease.

    `per_operation` maps an operation to its own backoff base (`retry_base_seconds` of
    `lro.operation`); the others use `base_seconds` (LRO_RETRY_BASE_SECONDS).
    """

    base_seconds: float = 1.0
    max_seconds: float = 300.0
    per_operation: Mapping[str, float] = field(default_factory=dict)

    def base_for(self, operation: str) -> float:
        return self.per_operation.get(operation, self.base_seconds)

    def next_attempt_at(
        self,
        now: datetime,
        operation: str,
        attempt: int,
        rand: Callable[[], float] = random.random,
    ) -> datetime:
        """When the attempt after failed attempt `attempt` (1-based) may start."""
        return retry_at(now, attempt, self.base_for(operation), self.max_seconds, rand)


class LostLease(enum.Enum):
    """What becomes of a job whose worker stopped renewing its lease."""

    CANCEL = "cancel"
    """Its cancel was requested: the lost run was its last."""
    FAIL = "fail"
    """The lost run used up its attempts: it ends failed (`worker_lost`)."""
    RETRY = "retry"
    """It goes back to the queue for another attempt."""


def after_lost_lease(attempt: int, max_attempts: int, cancel_requested: bool) -> LostLease:
    """The lost run counts as an attempt, so a job that kills its worker every time ends
    after `max_attempts` instead of looping; a requested cancel is honoured first."""
    if cancel_requested:
        return LostLease.CANCEL
    if attempt >= max_attempts:
        return LostLease.FAIL
    return LostLease.RETRY
