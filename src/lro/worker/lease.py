"""Keeping leases alive and noticing cancel requests.

A claimed job's lease runs out after `lease_seconds` unless extended; that is how a killed
worker's jobs come back (the rescuer takes expired leases). The heartbeat extends all of a
worker's leases with ONE `store.heartbeat()` call every lease/3, so a worker survives two
missed beats (a slow store, a long GC pause) before its jobs can be taken from it.

Cancel requests reach a running attempt two ways: at once, from the store's change
notifications (`JobChange.cancel_requested`, which cover other processes too), and, as a
safety net for a missed notification, from the next heartbeat's `cancel_requested` flag.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from lro.background import cancel_and_wait
from lro.events import ChangeHub
from lro.models import Lease, utcnow
from lro.store.base import JobChange, Store

log = logging.getLogger("lro.worker")


class Heartbeat:
    """Extends the leases returned by `leases()` every `lease_seconds / 3`.

    `on_lost(lease)` is called for a lease the store no longer honours, `on_cancel(job_id)`
    for a job whose cancel was requested.
    """

    def __init__(
        self,
        store: Store,
        *,
        lease_seconds: float,
        leases: Callable[[], Sequence[Lease]],
        on_lost: Callable[[Lease], None],
        on_cancel: Callable[[str], None],
    ) -> None:
        self._store = store
        self._lease_seconds = lease_seconds
        self.interval = lease_seconds / 3
        self._leases = leases
        self._on_lost = on_lost
        self._on_cancel = on_cancel
        self._task: asyncio.Task[None] | None = None
        self.beats = 0
        """Completed heartbeat rounds (a test signal)."""

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="lro-worker-heartbeat"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait([task])

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
            except Exception as exc:
                # Keep beating: the lease has two more intervals before it runs out.
                log.warning("heartbeat failed, will retry: %s", exc)

    async def beat(self) -> None:
        """One round: extend every lease now, report lost leases and cancel requests."""
        leases = list(self._leases())
        if leases:
            results = await self._store.heartbeat(leases, self._lease_seconds, utcnow())
            for lease, result in zip(leases, results, strict=True):
                if not result.alive:
                    self._on_lost(lease)
                elif result.cancel_requested:
                    self._on_cancel(lease.job_id)
        self.beats += 1


class CancelWatcher:
    """Forwards `cancel_requested` change notifications for jobs this worker runs. It
    listens on the process's change hub, the one listener on the store."""

    def __init__(
        self,
        hub: ChangeHub,
        *,
        is_running: Callable[[str], bool],
        on_cancel: Callable[[str], None],
    ) -> None:
        self._hub = hub
        self._is_running = is_running
        self._on_cancel = on_cancel
        self._remove: Callable[[], None] | None = None

    def start(self) -> None:
        if self._remove is None:
            self._remove = self._hub.on_cancel_requested(self._on_change)

    def stop(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None

    def _on_change(self, change: JobChange) -> None:
        if change.cancel_requested and self._is_running(change.job_id):
            self._on_cancel(change.job_id)
