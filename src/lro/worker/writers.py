"""Group commits for checkpoints and partials: what lets a handler call
`ctx.checkpoint` or `ctx.partial` once per item of a 100,000-item loop.

Both writers take whatever piles up while one store write is in flight and send it in
the next one, across every job of the worker (one transaction per batch). So a job's
checkpoints coalesce like its progress: a loop that checkpoints every item without
waiting costs one write per store round trip, holding the latest value. A caller that
awaits its checkpoint gets it back once the write that holds its value, or a later value
of the same job (latest wins, so that one being durable is what was asked), committed.
A partial caller never waits, and the executor settles a job's partials before
recording its outcome; the partials a job made before a checkpoint are written before
that checkpoint is, so a run resumed from a checkpoint neither loses nor repeats the
partials of the work it skips.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from lro.errors import StoreUnavailable
from lro.models import Lease, utcnow
from lro.store.steps import CheckpointWrite, PartialWrite, Steps

log = logging.getLogger("lro.worker")

RETRY_SECONDS = 0.2
"""Pause before a batch of partials that failed to write is tried again."""


@dataclass(slots=True)
class _Pending:
    lease: Lease
    value: Any
    waiters: list[asyncio.Future[bool]] = field(default_factory=list)


class CheckpointWriter:
    """One per worker. `note` records a job's latest checkpoint and returns a future that
    resolves once it (or a later one of the same job) is committed: True, or False when
    the lease fence refused it. Runs on the event loop."""

    def __init__(self, steps: Steps, partials: PartialWriter) -> None:
        self._steps = steps
        self._partials = partials
        self._pending: dict[str, _Pending] = {}
        self._inflight: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self.writes = 0
        """Store calls made (the benchmark reads it: checkpoints per write)."""

    async def settle(self, job_id: str) -> None:
        """Wait until the job's checkpoints noted so far are written (or refused)."""
        while (job_id in self._pending or job_id in self._inflight) and self._task is not None:
            await asyncio.shield(self._task)

    async def put(self, lease: Lease, value: Any) -> bool:
        return await self.note(lease, value)

    def note(self, lease: Lease, value: Any) -> asyncio.Future[bool]:
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        # Nobody may await it (a plain call): an error must not be logged as unretrieved.
        waiter.add_done_callback(_retrieve)
        entry = self._pending.get(lease.job_id)
        if entry is None or entry.lease != lease:
            if entry is not None:  # another attempt's value, not yet written: refuse it
                _resolve(entry.waiters, False)
            entry = self._pending[lease.job_id] = _Pending(lease, value)
        entry.value = value
        entry.waiters.append(waiter)
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="lro-checkpoints")
        return waiter

    async def _drain(self) -> None:
        try:
            while self._pending:
                for job_id in list(self._pending):
                    await self._partials.settle(job_id)
                batch, self._pending = list(self._pending.values()), {}
                self._inflight = {e.lease.job_id for e in batch}
                writes = [CheckpointWrite(e.lease, e.value) for e in batch]
                self.writes += 1
                try:
                    held = await self._steps.set_checkpoints(writes, utcnow())
                except Exception as exc:
                    for e in batch:
                        for w in e.waiters:
                            if not w.done():
                                w.set_exception(exc)
                    continue
                finally:
                    self._inflight = set()
                for e, ok in zip(batch, held, strict=True):
                    _resolve(e.waiters, ok)
        finally:
            self._task = None


def _retrieve(future: asyncio.Future[bool]) -> None:
    if not future.cancelled():
        future.exception()


def _resolve(waiters: list[asyncio.Future[bool]], ok: bool) -> None:
    for w in waiters:
        if not w.done():
            w.set_result(ok)


class PartialWriter:
    """One per worker. `add` keeps a job's partials in order (it runs on the loop: the
    context hands calls from handler threads over with `call_soon_threadsafe`, which
    keeps their order); `settle` waits until every partial of a job added so far is
    written, or refused by the fence."""

    def __init__(self, steps: Steps) -> None:
        self._steps = steps
        self._pending: dict[str, tuple[Lease, list[Any]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._idle: dict[str, asyncio.Event] = {}
        self.writes = 0

    def add(self, lease: Lease, value: Any) -> None:
        entry = self._pending.get(lease.job_id)
        if entry is None or entry[0] != lease:
            entry = self._pending[lease.job_id] = (lease, [])
        entry[1].append(value)
        self._idle.setdefault(lease.job_id, asyncio.Event()).clear()
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="lro-partials")

    async def settle(self, job_id: str) -> None:
        await asyncio.sleep(0)  # let hand-overs from a handler thread that just ended land
        idle = self._idle.get(job_id)
        if idle is not None:
            await idle.wait()
            if self._idle.get(job_id) is idle and idle.is_set():
                del self._idle[job_id]

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                writes = [PartialWrite(lease, values) for lease, values in batch.values()]
                self.writes += 1
                try:
                    held = await self._steps.append_partials(writes, utcnow())
                except Exception as exc:
                    if not isinstance(exc, StoreUnavailable):
                        # Not an outage: trying again would wedge every job's partials.
                        log.error("partial results dropped: %d job(s): %r", len(batch), exc)
                        self._settled(batch)
                        continue
                    log.warning("could not write partial results (retrying): %s", exc)
                    for job_id, (lease, values) in batch.items():
                        later = self._pending.pop(job_id, None)
                        more = later[1] if later is not None and later[0] == lease else []
                        self._pending[job_id] = (lease, values + more)
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                for w, ok in zip(writes, held, strict=True):
                    if not ok:
                        log.warning(
                            "job %s: %d partial result(s) dropped: the attempt lost its lease",
                            w.lease.job_id,
                            len(w.values),
                        )
                self._settled(batch)
        finally:
            self._task = None

    def _settled(self, batch: dict[str, tuple[Lease, list[Any]]]) -> None:
        for job_id in batch:
            if job_id not in self._pending and job_id in self._idle:
                self._idle[job_id].set()
