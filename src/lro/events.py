"""One change hub per process: fans store change notifications out to in-memory waiters.

Long polls, `Prefer: wait`, SSE streams and idle workers all wait here, so a process holds
one listener on the store (one LISTEN connection, or one poll of the events table) no
matter how many clients are waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable

from lro.feeds import Feeds
from lro.listfeed import JobLists
from lro.models import TERMINAL, Status
from lro.store.base import JobChange, Store


class ChangeHub:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._job_waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._queue_waiters: set[asyncio.Event] = set()
        self._terminal_waiters: set[asyncio.Event] = set()
        self._cancel_listeners: list[Callable[[JobChange], None]] = []
        self._remove: Callable[[], None] | None = None
        self.feeds = Feeds(store)
        """Per-job fan-out for SSE streams and waiting requests (lro.feeds)."""
        self.lists = JobLists(store)
        """Fan-out for the live job lists (lro.listfeed)."""

    def start(self) -> None:
        if self._remove is None:
            self._remove = self._store.add_listener(self._on_change)

    def stop(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None
        for events in self._job_waiters.values():
            for ev in events:
                ev.set()
        for ev in (*self._queue_waiters, *self._terminal_waiters):
            ev.set()
        self.feeds.close()
        self.lists.close()

    def _on_change(self, change: JobChange) -> None:
        self.feeds.changed(change.job_id)
        self.lists.changed(change.job_id)
        if change.cancel_requested:
            for listener in tuple(self._cancel_listeners):
                listener(change)
        for ev in self._job_waiters.get(change.job_id, ()):
            ev.set()
        if change.status is Status.QUEUED:
            for ev in self._queue_waiters:
                ev.set()
        elif change.status in TERMINAL:
            for ev in self._terminal_waiters:
                ev.set()

    def on_cancel_requested(self, listener: Callable[[JobChange], None]) -> Callable[[], None]:
        """Call `listener` (on the event loop; it must not block) with every change that
        asked a processing job to stop; returns the function that removes it."""
        self._cancel_listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._cancel_listeners.remove(listener)

        return remove

    def job_waiter(self, job_id: str) -> Waiter:
        """Register interest in one job *before* reading its state, then wait; a change
        committed between the read and the wait still wakes the waiter."""
        return Waiter(self._job_waiters, job_id)

    def queue_waiter(self, *, also_on_end: bool = False) -> QueueWaiter:
        """Wakes when some job becomes queued (submit, retry, release, rescue), and with
        `also_on_end` when one ends too (a worker held back by a limit: a slot freed)."""
        if also_on_end:
            return QueueWaiter(self._queue_waiters, self._terminal_waiters)
        return QueueWaiter(self._queue_waiters)

    def wake_dispatchers(self) -> None:
        """A delivery became due without a job ending (a manual retry)."""
        for ev in self._terminal_waiters:
            ev.set()

    def terminal_waiter(self) -> QueueWaiter:
        """Wakes when some job ends (its webhook delivery, if any, is then due)."""
        return QueueWaiter(self._terminal_waiters)


class _Flag:
    """An asyncio.Event that can be awaited with a timeout and re-armed."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """True when woken by a change, False on timeout. Clears the flag for reuse."""
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as
        # the event is set, and the waiting loop (the webhook dispatcher's) never stops.
        try:
            async with asyncio.timeout(timeout):
                await self.event.wait()
        except TimeoutError:
            return False
        self.event.clear()
        return True


class Waiter(_Flag):
    def __init__(self, registry: dict[str, set[asyncio.Event]], job_id: str) -> None:
        super().__init__()
        self._registry = registry
        self._job_id = job_id

    def __enter__(self) -> Waiter:
        self._registry[self._job_id].add(self.event)
        return self

    def __exit__(self, *exc: object) -> None:
        waiters = self._registry.get(self._job_id)
        if waiters is not None:
            waiters.discard(self.event)
            if not waiters:
                del self._registry[self._job_id]


class QueueWaiter(_Flag):
    def __init__(self, *registries: set[asyncio.Event]) -> None:
        super().__init__()
        self._registries = registries

    def __enter__(self) -> QueueWaiter:
        for registry in self._registries:
            registry.add(self.event)
        return self

    def __exit__(self, *exc: object) -> None:
        for registry in self._registries:
            registry.discard(self.event)
