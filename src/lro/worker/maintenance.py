"""Maintenance services every worker runs: the rescuer and the retention sweeper.

Both are safe to run in many processes at once: each pass is one store transaction that
re-checks the rows it changes (an expired lease, an expired terminal job), so two rescuers
never take back the same job twice and two sweepers never delete the same job twice.
Deleting a swept job's result directory is idempotent, so a crash between the sweep and the
file deletion only leaves files a later `delete_job` call would remove the same way.

Each service is a `*_once(now)` method (what tests call, with an explicit `now`) driven by
a loop that calls it on an interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from lro import logs
from lro.background import cancel_and_wait
from lro.models import Job, Swept, utcnow
from lro.store.base import RescueParams, SweepParams

if TYPE_CHECKING:
    from lro.runtime import Runtime

log = logging.getLogger("lro.worker.maintenance")

MAX_SWEEP_BATCHES = 20
"""Batches per sweep tick; a backlog bigger than this is worked off over several ticks so
one process never holds the write lock for long."""


def rescue_interval(lease_seconds: float) -> float:
    """How often to look for expired leases: half a lease, at most a second, so a killed
    worker's job is back in the queue at most about one second after its lease ran out."""
    return max(0.05, min(lease_seconds / 2, 1.0))


class Maintenance:
    """The rescuer (expired leases back to the queue) and the sweeper (retention)."""

    def __init__(self, lro: Runtime) -> None:
        self._lro = lro
        self._tasks: list[asyncio.Task[None]] = []
        self.rescued = 0
        """Jobs taken back from lost workers so far (a test signal)."""
        self.swept = 0
        """Expired jobs deleted so far."""

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def rescue_once(self, now: datetime | None = None) -> list[Job]:
        """Take back jobs whose lease expired before `now`. A lost run counts as an attempt:
        the job is re-queued after the retry backoff, or ends failed (`worker_lost`)
        once its attempts are used up, or cancelled when a cancel was requested."""
        settings = self._lro.settings
        jobs = await self._lro.store.rescue_expired(
            RescueParams(
                now=now or utcnow(),
                retention_seconds=settings.retention_seconds,
                retry=self._lro.retry_policy,
            )
        )
        for job in jobs:
            # Not named: the rescue clears the worker of a requeued job on every backend.
            log.warning(
                "job %s (%s) lost its worker on attempt %d/%d; now %s",
                job.id,
                job.operation,
                job.attempt,
                job.max_attempts,
                job.status.value,
                extra=logs.job_extra(job.id, job.operation, job.attempt, job.worker_id),
            )
        self.rescued += len(jobs)
        return jobs

    async def sweep_once(self, now: datetime | None = None) -> Swept:
        """Delete one batch of expired terminal jobs and their result files."""
        settings = self._lro.settings
        swept = await self._lro.store.sweep(
            SweepParams(
                now=now or utcnow(),
                batch_size=settings.sweep_batch_size,
                tombstone_seconds=settings.tombstone_seconds,
            )
        )
        results = self._lro.result_store
        for job_id in swept.job_ids:
            try:
                await results.delete_job(job_id)
            except Exception as exc:  # one bad directory must not stop the sweep
                log.warning("could not delete result files of swept job %s: %s", job_id, exc)
        if swept.job_ids:
            log.info("swept %d expired jobs", len(swept.job_ids))
        self.swept += len(swept.job_ids)
        batches = self._lro.store.batches
        if batches is not None:  # a batch row goes with the retention of its last job
            await batches.sweep_batches(now or utcnow(), settings.sweep_batch_size)
        return swept

    async def sweep_all(self, now: datetime | None = None) -> int:
        """Sweep batch after batch until a short one (bounded by MAX_SWEEP_BATCHES)."""
        total = 0
        for _ in range(MAX_SWEEP_BATCHES):
            swept = await self.sweep_once(now)
            total += len(swept.job_ids)
            if len(swept.job_ids) < self._lro.settings.sweep_batch_size:
                break
        return total

    # -- loops ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        settings = self._lro.settings
        self._tasks = [
            loop.create_task(
                _every(rescue_interval(settings.lease_seconds), self.rescue_once, "rescue"),
                name="lro-rescuer",
            ),
            loop.create_task(
                _every(settings.sweep_interval_seconds, self.sweep_all, "sweep"),
                name="lro-sweeper",
            ),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(tasks)


async def _every(interval: float, fn: Callable[[], Awaitable[object]], what: str) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await fn()
        except Exception as exc:
            log.warning("%s pass failed, will retry in %g s: %s", what, interval, exc)
