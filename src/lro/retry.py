"""Retry decisions and backoff: pure functions, so every rule is testable without a clock.

Backoff uses "full jitter" (delay drawn uniformly from 0 to the exponential ceiling): when a
dependency fails, many jobs fail at once, and spreading their retries over the whole window
keeps them from hammering it again in lock-step.
"""

from __future__ import annotations

import random
from collections.abc import Callable
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
