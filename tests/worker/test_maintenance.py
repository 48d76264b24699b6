"""The rescuer and the retention sweeper, driven with explicit `now` values."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.worker.helpers import running_worker, wait_job

from lro import LRO, File, JobContext, Status
from lro.models import utcnow
from lro.store import ClaimParams


async def test_rescuer_requeues_then_fails_with_worker_lost(lro: LRO) -> None:
    @lro.operation("fragile", max_attempts=2)
    async def fragile(ctx: JobContext) -> None:
        return None

    job = await lro.submit("fragile")
    maintenance = lro.maintenance()
    now = utcnow()
    for attempt in (1, 2):
        # A worker claims the job and dies: nothing extends its 10 s lease.
        [claimed] = await lro.store.claim_jobs(ClaimParams("doomed", 1, 10, now))
        assert claimed.attempt == attempt
        assert await maintenance.rescue_once(now + timedelta(seconds=5)) == []
        now += timedelta(seconds=11)
        [rescued] = await maintenance.rescue_once(now)
        assert rescued.id == job.id
    assert rescued.status is Status.FAILED
    assert rescued.error is not None
    assert (rescued.error.code, rescued.error.attempts) == ("worker_lost", 2)
    assert maintenance.rescued == 2


async def test_a_running_worker_rescues_and_finishes_a_dead_workers_job(lro: LRO) -> None:
    # The worker's own lease is long enough to survive a loaded machine; the dead worker's
    # 0.3 s lease runs out almost at once.
    lro.settings = lro.settings.model_copy(update={"lease_seconds": 1.5})

    @lro.operation("resumable", max_attempts=3)
    async def resumable(ctx: JobContext) -> int:
        return ctx.attempt

    job = await lro.submit("resumable")
    [claimed] = await lro.store.claim_jobs(ClaimParams("dead-worker", 1, 0.3, utcnow()))
    assert claimed.id == job.id
    async with running_worker(lro) as worker:
        done = await wait_job(lro, job.id)
    assert (done.status, done.result, done.attempt) == (Status.COMPLETED, 2, 2)
    assert worker.maintenance is not None and worker.maintenance.rescued >= 1


async def test_sweeper_deletes_expired_jobs_and_their_files_but_not_active_jobs(
    lro: LRO,
) -> None:
    @lro.operation("report")
    def report(ctx: JobContext) -> File:
        path = ctx.result_path("r.txt")
        path.write_text("report")
        return File(path)

    @lro.operation("later")
    async def later(ctx: JobContext) -> None:
        return None

    job = await lro.submit("report")
    async with running_worker(lro):
        done = await wait_job(lro, job.id)
    assert done.result_ref is not None and done.expires_at is not None
    result_file = lro.result_store.local_path(done.result_ref)
    assert result_file.exists()
    waiting = await lro.submit("later", delay=3600)

    maintenance = lro.maintenance()
    assert (await maintenance.sweep_once(done.expires_at - timedelta(seconds=1))).job_ids == []
    swept = await maintenance.sweep_once(done.expires_at + timedelta(seconds=1))
    assert swept.job_ids == [job.id]
    assert not result_file.exists()
    assert not result_file.parent.parent.exists()  # the job's whole result directory
    assert await lro.store.get_job(job.id) is None
    assert await lro.store.get_tombstone(job.id, done.expires_at) is not None
    still = await lro.store.get_job(waiting.id)
    assert still is not None and still.status is Status.QUEUED
    assert maintenance.swept == 1


async def test_concurrent_rescuers_never_take_back_a_job_twice(lro: LRO) -> None:
    @lro.operation("many", max_attempts=3)
    async def many(ctx: JobContext) -> None:
        return None

    from lro import SubmitRequest

    await lro.submit_many([SubmitRequest("many") for _ in range(20)])
    now = utcnow()
    claimed = await lro.store.claim_jobs(ClaimParams("doomed", 20, 1, now))
    assert len(claimed) == 20
    first, second = lro.maintenance(), lro.maintenance()
    later = now + timedelta(seconds=5)
    a, b = await asyncio.gather(first.rescue_once(later), second.rescue_once(later))
    ids = [job.id for job in a + b]
    assert sorted(ids) == sorted(job.id for job in claimed)
