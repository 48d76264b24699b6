"""Workload control declared on an operation (HTTP-CONTRACT §13): its queue, how many of
its jobs may run at once (in all, and per key), how many may start per period, whether
keys take turns, and how many may wait.

Why the limits are plain data here and enforced elsewhere: a limit has to hold across
every worker process and machine sharing a store, so no process may count for itself.
The store's claim enforces them in one transaction (`Store.workload`, the
`lro.store.*.workload` modules); this module only says what was declared, checks it once
at registration, and computes the one value a job needs at submit: its key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KeySource = str | Callable[[dict[str, Any], str], str]
"""A params field name, or `callable(params, principal) -> str`."""

DEFAULT_QUEUE = "default"

MAX_KEY_CHARS = 255


@dataclass(frozen=True, slots=True)
class Limits:
    """What `@lro.operation(...)` declared; every field optional (None / False: unset)."""

    queue: str = DEFAULT_QUEUE
    concurrency: int | None = None
    concurrency_key: KeySource | None = None
    key_concurrency: int | None = None
    rate_limit: tuple[int, float] | None = None
    fair: bool = False
    max_queued: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.queue, str) or not self.queue or len(self.queue) > 200:
            raise ValueError("queue must be a non-empty name of at most 200 characters")
        if "," in self.queue or self.queue.strip() != self.queue:
            raise ValueError(f"queue {self.queue!r}: no commas or surrounding spaces")
        for name in ("concurrency", "key_concurrency", "max_queued"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        key = self.concurrency_key
        if key is not None and not (callable(key) or (isinstance(key, str) and key)):
            raise ValueError("concurrency_key must be a params field name or a callable")
        if self.key_concurrency is not None and key is None:
            raise ValueError("key_concurrency needs a concurrency_key to count by")
        if self.rate_limit is not None:
            rate = self.rate_limit
            if not (isinstance(rate, tuple) and len(rate) == 2):
                raise ValueError("rate_limit must be a pair (N, P): N starts per P seconds")
            n, period = rate
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"rate_limit N must be a whole number of at least 1, got {n!r}")
            if isinstance(period, bool) or not isinstance(period, int | float):
                raise ValueError(f"rate_limit P must be a number of seconds, got {period!r}")
            if not (math.isfinite(period) and period > 0):
                raise ValueError(f"rate_limit P must be positive seconds, got {period!r}")
        if not isinstance(self.fair, bool):
            raise ValueError("fair must be True or False")

    @property
    def held_in_claim(self) -> bool:
        """True when the operation's jobs carry a key and are claimed only by the limited
        claim, which counts for them. A depth cap alone counts too: its jobs are then on
        the limited index, where the check at submit counts them without a scan."""
        return (
            self.concurrency is not None
            or self.concurrency_key is not None
            or self.rate_limit is not None
            or self.fair
            or self.max_queued is not None
        )

    @property
    def declared(self) -> list[str]:
        """The limit options set (for the refusal on a store without the capability)."""
        names = ["concurrency", "concurrency_key", "key_concurrency", "rate_limit"]
        out = [n for n in names if getattr(self, n) is not None]
        if self.fair:
            out.append("fair")
        if self.max_queued is not None:
            out.append("max_queued")
        return out

    def key_for(self, params: dict[str, Any], principal: str) -> str | None:
        """The job's concurrency key, stored with it at submit: the declared key's value,
        else the principal when `fair`, else "" (one key for the whole operation) when
        the claim counts for it, else None (not limited in the claim)."""
        source = self.concurrency_key
        if source is None:
            if self.fair:
                return principal
            return "" if self.held_in_claim else None
        if callable(source):
            value: Any = source(params, principal)
        else:
            value = params.get(source)
        if value is None:
            return ""
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_KEY_CHARS:
            raise ValueError(f"concurrency key longer than {MAX_KEY_CHARS} characters")
        return text


__all__ = ["DEFAULT_QUEUE", "KeySource", "Limits"]
