"""How long a job of an operation is expected to take (`estimated_duration_seconds`).

It feeds the 202's body, the Retry-After suggestions, and the `respond_within` decision,
so it is read on every submit: cached per operation, refreshed at most every `ttl`.
"""

from __future__ import annotations

import time

from lro.operations import Operation
from lro.store.base import Store


class Estimator:
    """The declared figure, refined by the median run time of recent completed jobs once
    there are some; cached so a submit burst costs no queries."""

    def __init__(self, ttl: float = 10.0) -> None:
        self._ttl = ttl
        self._cache: dict[str, tuple[float, float | None]] = {}

    async def estimate(self, store: Store, op: Operation) -> float | None:
        hit = self._cache.get(op.name)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        durations = await store.recent_durations(op.name, 20)
        value = op.estimated_duration
        if len(durations) >= 3:
            ordered = sorted(durations)
            value = round(ordered[len(ordered) // 2], 3)
        self._cache[op.name] = (now, value)
        return value


__all__ = ["Estimator"]
