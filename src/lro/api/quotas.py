"""Per-principal abuse limits: a submit rate (token bucket in the store, so one budget
holds across every API process on a shared database), a cap on unfinished jobs, and
caps on open event streams and waiting requests (per process: they hold memory and a
socket here, nowhere else).

Limits apply to authenticated principals other than admins (`Caller.limited`); with auth
off everyone is the anonymous local user, and nothing is limited but the process-wide
stream cap, which protects the process itself (503 rather than falling over).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from lro.api.auth import Caller
from lro.errors import ServiceUnavailable, TooManyRequests
from lro.models import utcnow

if TYPE_CHECKING:
    from lro.config import Settings
    from lro.runtime import Runtime


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


POLICY = "submit"
"""The name of the submit-rate policy in the RateLimit fields."""


def rate_policy(settings: Settings) -> str:
    """`RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers): the token bucket as a
    quota of `burst` submits per the seconds it takes to refill from empty."""
    window = max(1, math.ceil(settings.submit_burst / settings.submit_rate_per_second))
    return f'"{POLICY}";q={settings.submit_burst};w={window}'


def rate_fields(settings: Settings, left: float, wait: float = 0.0) -> dict[str, str]:
    """`RateLimit-Policy` and `RateLimit`: `r` submits left now, `t` seconds until the
    quota is whole again (refused: until the next submit is allowed)."""
    remaining = max(0, math.floor(left))
    if wait > 0:
        reset = max(1, math.ceil(wait))
    else:
        reset = math.ceil(max(0.0, settings.submit_burst - left) / settings.submit_rate_per_second)
    return {
        "RateLimit-Policy": rate_policy(settings),
        "RateLimit": f'"{POLICY}";r={remaining};t={reset}',
    }


async def check_submit(lro: Runtime, caller: Caller, count: int = 1) -> dict[str, str]:
    """Raise 429 when `caller` may not submit `count` more jobs now; otherwise return
    the RateLimit fields for the answer when a per-principal rate applies (else none)."""
    if not caller.limited:
        return {}
    settings = lro.settings
    bucket = f"submit:{caller.principal}"
    if settings.max_active_jobs:
        active = await lro.store.quotas.active_jobs(caller.principal)
        if active + count > settings.max_active_jobs:
            headers = _retry_after(5)
            if settings.submit_rate_per_second:
                left = await lro.store.quotas.tokens_left(
                    bucket,
                    rate=settings.submit_rate_per_second,
                    burst=settings.submit_burst,
                    now=utcnow(),
                )
                headers |= rate_fields(settings, left)
            raise TooManyRequests(
                f"You have {active} unfinished jobs, the most allowed is "
                f"{settings.max_active_jobs}; submit more once some have finished.",
                headers=headers,
                extensions={
                    "limit": "max_active_jobs",
                    "max_active_jobs": settings.max_active_jobs,
                },
            )
    if not settings.submit_rate_per_second:
        return {}
    now = utcnow()
    rate, burst = settings.submit_rate_per_second, settings.submit_burst
    wait = await lro.store.quotas.take_tokens(bucket, rate=rate, burst=burst, cost=count, now=now)
    left = await lro.store.quotas.tokens_left(bucket, rate=rate, burst=burst, now=now)
    if wait > 0:
        raise TooManyRequests(
            f"Submit rate limit reached ({settings.submit_rate_per_second:g} per second, "
            f"bursts of {settings.submit_burst}); retry after the Retry-After delay.",
            headers=_retry_after(wait) | rate_fields(settings, left, wait),
            extensions={"limit": "submit_rate"},
        )
    return rate_fields(settings, left)


class Holds:
    """Open event streams and waiting requests of this process, per principal."""

    def __init__(self) -> None:
        self._by_principal: Counter[str] = Counter()
        self.total = 0

    def acquire(self, lro: Runtime, caller: Caller) -> Callable[[], None]:
        """Count one open stream or wait for `caller` until the returned function is
        called; refuse one over the principal's cap (429) or the process's (503)."""
        settings = lro.settings
        if settings.max_streams and self.total >= settings.max_streams:
            raise ServiceUnavailable(
                "This server is holding as many open streams and waits as it allows; "
                "retry after the Retry-After delay or poll instead.",
                headers=_retry_after(5),
            )
        per = settings.max_streams_per_principal
        if caller.limited and per and self._by_principal[caller.principal] >= per:
            raise TooManyRequests(
                f"You have {per} event streams or waiting requests open on this server, the "
                "most allowed; close one, or poll instead.",
                headers=_retry_after(5),
                extensions={"limit": "max_streams_per_principal"},
            )
        self.total += 1
        self._by_principal[caller.principal] += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.total -= 1
            self._by_principal[caller.principal] -= 1
            if self._by_principal[caller.principal] <= 0:
                del self._by_principal[caller.principal]

        return release

    @contextlib.contextmanager
    def hold(self, lro: Runtime, caller: Caller) -> Iterator[None]:
        release = self.acquire(lro, caller)
        try:
            yield
        finally:
            release()


_HOLDS: weakref.WeakKeyDictionary[Runtime, Holds] = weakref.WeakKeyDictionary()


def holds(lro: Runtime) -> Holds:
    """The stream and wait counters of `lro` in this process."""
    found = _HOLDS.get(lro)
    if found is None:
        found = _HOLDS[lro] = Holds()
    return found
