"""A store listener that tests can await instead of sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lro.store import JobChange

WAIT = 30.0
"""How long a test waits for a change before it fails: a deadline for a loaded machine,
not a measure (a change normally arrives in milliseconds)."""


async def other_processes_heard(store: object) -> None:
    """Return once `store` hears other processes' changes. A PostgreSQL store starts its
    LISTEN session when the first listener is added, and a NOTIFY sent before that session
    is up is not delivered to it; SQLite's poll cursor is taken at open, so it has nothing
    to wait for."""
    listening = getattr(store, "listening", None)
    if isinstance(listening, asyncio.Event):
        await asyncio.wait_for(listening.wait(), WAIT)


class Recorder:
    """Records every change it hears; `wait_for` returns the first change matching a
    predicate, `wait_until` returns once a predicate over all changes so far holds."""

    def __init__(self) -> None:
        self.changes: list[JobChange] = []
        self._arrived = asyncio.Event()

    def __call__(self, change: JobChange) -> None:
        self.changes.append(change)
        self._arrived.set()

    async def wait_for(self, match: Callable[[JobChange], bool]) -> JobChange:
        found: list[JobChange] = []

        def any_match(changes: list[JobChange]) -> bool:
            found[:] = [c for c in changes if match(c)][:1]
            return bool(found)

        await self.wait_until(any_match)
        return found[0]

    async def wait_until(self, match: Callable[[list[JobChange]], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not match(self.changes):
                self._arrived.clear()
                await self._arrived.wait()
