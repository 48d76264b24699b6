"""The worker's side of direct hand-off (lro.store.postgres.handoff explains the protocol).

An idle worker parks: it offers the store one free slot, and the next submit of a job it
runs writes that job already leased to it and sends it along, so the job starts without
a claim. The rules that keep the slot count honest:

* Park only with a free slot, after a claim came back short (nothing left to claim).
* A park is good for one job. A hand-off ends it, and so does the worker filling its last
  slot by claiming (it withdraws the offer, `unpark`).
* A hand-off that finds no free slot, or a stopping worker, is released to the queue
  unrun; the release gives its attempt back, so it costs the job nothing but a moment.
* A job is started at most once per lease: the notification and the reconnect sweep
  (`orphaned`) can both bring the same job, and the second is ignored.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Coroutine
from typing import Protocol

from lro.models import Job, Lease, Status, utcnow
from lro.store.base import ClaimParams, Handoffs, HandoffSubscription, Store

log = logging.getLogger("lro.worker")

REMEMBERED = 1024
"""How many handed-off leases a worker remembers, to start each one once."""


class Host(Protocol):
    """What the receiver needs from its Worker."""

    id: str

    @property
    def stopping(self) -> bool: ...

    def free_slots(self) -> int: ...

    def holds(self, job_id: str) -> bool: ...

    def held_tokens(self) -> list[str]: ...

    def launch_handed(self, job: Job) -> None: ...

    def kick(self) -> None: ...


class HandoffReceiver:
    def __init__(self, host: Host, store: Store, handoffs: Handoffs) -> None:
        self._host = host
        self._store = store
        self._handoffs = handoffs
        self._parked = False
        self._generation = 0
        self._seen: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def parked(self) -> bool:
        return self._parked

    def start(self) -> None:
        self._unsubscribe = self._handoffs.subscribe(
            self._host.id, HandoffSubscription(self._on_job, self._on_reconnect)
        )

    async def stop(self) -> None:
        """Withdraw the offer, then stop listening. A hand-off that raced the withdrawal
        still arrives while subscribed, and is released because the worker is stopping."""
        await self.unpark()
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # -- parking ------------------------------------------------------------------------------
    async def claim(self, params: ClaimParams) -> list[Job]:
        """The worker's claim. Unless already parked (or stopping), a claim that comes back
        short parks the worker in the same statement: it had a free slot to claim into,
        and the claim left one free."""
        if self._parked or self._host.stopping:
            return await self._store.claim_jobs(params)
        generation = self._generation
        jobs, parked = await self._handoffs.claim_or_park(params)
        # A hand-off can arrive before the claim's own answer does: it has used this park.
        self._parked = parked and generation == self._generation
        return jobs

    async def unpark(self) -> None:
        """Withdraw the offer (the worker is full or stopping)."""
        if not self._parked:
            return
        self._parked = False
        try:
            if not await self._handoffs.unpark(self._host.id):
                log.debug("worker %s: a hand-off took the park first", self._host.id)
        except Exception as exc:
            # The row outlives us only while this process's LISTEN session lives; whatever
            # it still brings is released (or run, if a slot is free).
            log.warning("worker %s could not unpark: %s", self._host.id, exc)

    # -- arrivals -----------------------------------------------------------------------------
    def _on_job(self, job: Job | str) -> None:
        self._generation += 1
        self._parked = False
        if isinstance(job, str):
            self._spawn(self._fetch(job))
        else:
            self._accept(job)

    def _on_reconnect(self) -> None:
        """Our notification session was replaced: the park died with it (a submitter sees
        the old lock free), and a hand-off may have been lost in between."""
        self._generation += 1
        self._parked = False
        self._spawn(self._adopt_orphans())
        self._host.kick()

    async def _fetch(self, job_id: str) -> None:
        """A row too big for the notification. If it cannot be read now, the reconnect
        sweep or, at the latest, the lease's expiry brings the job back."""
        try:
            job = await self._store.get_job(job_id)
        except Exception as exc:
            log.warning("worker %s could not read hand-off %s: %s", self._host.id, job_id, exc)
            return
        if job is not None:
            self._accept(job)

    async def _adopt_orphans(self) -> None:
        try:
            jobs = await self._handoffs.orphaned(self._host.id, self._host.held_tokens())
        except Exception as exc:
            log.warning("worker %s could not look for lost hand-offs: %s", self._host.id, exc)
            return
        for job in jobs:
            self._accept(job)

    def _accept(self, job: Job) -> None:
        host = self._host
        token = job.lease_token
        if job.worker_id != host.id or token is None or job.status is not Status.PROCESSING:
            return
        key = (job.id, token)
        if key in self._seen or host.holds(job.id):
            return
        self._seen[key] = None
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        if host.stopping or host.free_slots() < 1:
            self._spawn(self._release(Lease(job.id, token)))
            return
        host.launch_handed(job)
        host.kick()  # claim whatever else is queued, then park again

    async def _release(self, lease: Lease) -> None:
        try:
            await self._store.release_jobs([lease], utcnow())
        except Exception as exc:
            log.error("could not release hand-off %s (its lease will expire): %s", lease, exc)

    def _spawn(self, coro: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


__all__ = ["HandoffReceiver"]
