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
    from lro.runtime import Runtime


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


async def check_submit(lro: Runtime, caller: Caller, count: int = 1) -> None:
    """Raise 429 when `caller` may not submit `count` more jobs now."""
    if not caller.limited:
        return
    settings = lro.settings
    if settings.max_active_jobs:
        active = await lro.store.quotas.active_jobs(caller.principal)
        if active + count > settings.max_active_jobs:
            raise TooManyRequests(
                f"You have {active} unfinished jobs, the most allowed is "
                f"{settings.max_active_jobs}; submit more once some have finished.",
                headers=_retry_after(5),
                extensions={
                    "limit": "max_active_jobs",
                    "max_active_jobs": settings.max_active_jobs,
                },
            )
    if settings.submit_rate_per_second:
        wait = await lro.store.quotas.take_tokens(
            f"submit:{caller.principal}",
            rate=settings.submit_rate_per_second,
            burst=settings.submit_burst,
            cost=count,
            now=utcnow(),
        )
        if wait > 0:
            raise TooManyRequests(
                f"Submit rate limit reached ({settings.submit_rate_per_second:g} per second, "
                f"bursts of {settings.submit_burst}); retry after the Retry-After delay.",
                headers=_retry_after(wait),
                extensions={"limit": "submit_rate"},
            )


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
