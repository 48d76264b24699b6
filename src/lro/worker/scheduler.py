"""The scheduler every `lro serve` and `lro worker` process runs (HTTP-CONTRACT §16): it
looks for due schedules twice a second and fires each. Any number of them may run: a
firing is a compare-and-set in the store (`Schedules.fire`), so a due time makes one job
whoever fires it. A firing missed while no process ran is fired once when one comes back
(its due time is still stored), and the next due time is computed from now, so missed
periods are not made up."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from lro.background import cancel_and_wait
from lro.models import utcnow
from lro.scheduling import job_of
from lro.store import Schedule
from lro.timing import next_run

if TYPE_CHECKING:
    from lro.runtime import Runtime

log = logging.getLogger("lro.scheduler")

TICK_SECONDS = 0.5
"""How often due schedules are looked for: a firing is at most this late (plus its
transaction), within the contract's 1 s."""
BATCH = 100


class Scheduler:
    def __init__(self, lro: Runtime) -> None:
        self._lro = lro
        self._task: asyncio.Task[None] | None = None
        self._users = 0
        self.fired = 0
        """Jobs this process's scheduler made (for tests and logs)."""

    async def start(self) -> None:
        """Start firing (reference-counted: an API and a worker in one process share it)."""
        self._users += 1
        if self._task is None and self._lro.store.schedules is not None:
            await self._lro.start()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="lro-scheduler")

    async def stop(self) -> None:
        self._users = max(0, self._users - 1)
        if self._users or self._task is None:
            return
        task, self._task = self._task, None
        await cancel_and_wait([task])

    async def _run(self) -> None:
        while True:
            try:
                while await self.fire_due() >= BATCH:
                    pass
            except Exception as exc:  # the store is away: try again next tick
                log.warning("firing schedules failed: %s", exc)
            await asyncio.sleep(TICK_SECONDS)

    async def fire_due(self) -> int:
        """Fire every schedule due now (up to BATCH); returns how many were due."""
        part = self._lro.store.schedules
        if part is None:
            return 0
        now = utcnow()
        due = await part.due_schedules(now, BATCH)
        for schedule in due:
            await self._fire(schedule)
        return len(due)

    async def _fire(self, schedule: Schedule) -> None:
        part = self._lro.store.schedules
        assert part is not None
        now = utcnow()
        try:
            following = next_run(
                cron=schedule.cron,
                interval_seconds=schedule.interval_seconds,
                timezone=schedule.timezone,
                anchor=schedule.next_run_at,
                after=now,
            )
            firing = await part.fire(schedule, following, await job_of(self._lro, schedule), now)
        except Exception as exc:
            log.warning("schedule %s could not fire: %s", schedule.id, exc)
            return
        if firing.job is not None:
            self.fired += 1
            self._lro.metrics.operation(firing.job.operation).submitted.inc()
            log.info("schedule %s fired job %s", schedule.id, firing.job.id)
