"""Cancellation, lease fencing, graceful shutdown, progress coalescing, idle signals."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from datetime import timedelta

from tests.worker.helpers import running_worker, wait_job

from lro import LRO, JobContext, Status
from lro.models import Completion, Lease, utcnow
from lro.retry import RetryPolicy
from lro.store import ClaimParams, RescueParams
from lro.worker import Worker


async def test_cancel_interrupts_an_async_handler_that_ignores_ctx_cancelled(lro: LRO) -> None:
    started = asyncio.Event()
    interrupted = asyncio.Event()

    @lro.operation("stubborn")
    async def stubborn(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            interrupted.set()
            raise

    job = await lro.submit("stubborn")
    async with running_worker(lro, cancel_grace=0.05) as worker:
        await asyncio.wait_for(started.wait(), 5)
        await lro.store.request_cancel(job.id, utcnow(), lro.settings.retention_seconds)
        done = await wait_job(lro, job.id)
        await worker.wait_for(lambda s: s.cancelled == 1, timeout=5)
    assert done.status is Status.CANCELLED
    assert interrupted.is_set()
    assert worker.running_jobs == []


async def test_cooperative_async_handler_stops_on_ctx_cancelled(lro: LRO) -> None:
    started = asyncio.Event()

    @lro.operation("polite")
    async def polite(ctx: JobContext) -> str:
        started.set()
        for _chunk in range(6000):  # one chunk of work, then a check
            if ctx.cancelled:
                break
            await asyncio.sleep(0.005)
        ctx.raise_if_cancelled()
        return "unreachable"

    job = await lro.submit("polite")
    # A long grace: only the handler's own check can end the job this quickly.
    async with running_worker(lro, cancel_grace=30):
        await asyncio.wait_for(started.wait(), 5)
        await lro.store.request_cancel(job.id, utcnow(), lro.settings.retention_seconds)
        done = await wait_job(lro, job.id)
    assert done.status is Status.CANCELLED


async def test_sync_handler_checking_ctx_cancelled_ends_cancelled(lro: LRO) -> None:
    started = threading.Event()

    @lro.operation("sync.loop")
    def loop(ctx: JobContext) -> str:
        started.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if ctx.cancelled:
                return "stopped early"  # returning after a cancel still ends `cancelled`
            time.sleep(0.005)
        return "finished"

    job = await lro.submit("sync.loop")
    async with running_worker(lro, cancel_grace=30):
        await asyncio.to_thread(started.wait, 5)
        await lro.store.request_cancel(job.id, utcnow(), lro.settings.retention_seconds)
        done = await wait_job(lro, job.id)
    assert done.status is Status.CANCELLED
    assert done.result is None


async def test_heartbeat_delivers_a_cancel_when_the_notification_is_missed(
    lro: LRO,
) -> None:
    lro.settings = lro.settings.model_copy(update={"lease_seconds": 0.3})
    started = asyncio.Event()

    @lro.operation("deaf")
    async def deaf(ctx: JobContext) -> None:
        started.set()
        for _chunk in range(6000):
            if ctx.cancelled:
                break
            await asyncio.sleep(0.005)
        ctx.raise_if_cancelled()

    job = await lro.submit("deaf")
    async with running_worker(lro, cancel_grace=30) as worker:
        await asyncio.wait_for(started.wait(), 5)
        assert worker._watcher is not None
        worker._watcher.stop()  # the notification path is gone; only heartbeats remain
        await lro.store.request_cancel(job.id, utcnow(), lro.settings.retention_seconds)
        done = await wait_job(lro, job.id)
    assert done.status is Status.CANCELLED


async def test_progress_calls_are_coalesced_into_few_writes(lro: LRO) -> None:
    lro.settings = lro.settings.model_copy(update={"progress_flush_seconds": 0.25})
    calls = 100_000

    @lro.operation("chatty")
    def chatty(ctx: JobContext) -> None:
        for i in range(calls):
            ctx.progress(i * 99 / calls, "working")

    job = await lro.submit("chatty")
    async with running_worker(lro) as worker:
        done = await wait_job(lro, job.id)
        await worker.wait_idle(5)
    assert done.status is Status.COMPLETED
    events = await lro.store.events_after(job.id, 0)
    progress = [e for e in events if e.kind == "progress"]
    # 100,000 calls; one write per flush interval at most while the loop runs.
    assert len(progress) <= 40, len(progress)
    assert worker._buffer is not None and worker._buffer.progress_writes <= 40


async def test_a_worker_whose_lease_was_taken_cannot_overwrite_the_new_attempt(
    lro: LRO,
) -> None:
    started = asyncio.Event()
    release_stale = asyncio.Event()

    @lro.operation("fenced", max_attempts=3)
    async def fenced(ctx: JobContext) -> str:
        started.set()
        await release_stale.wait()
        await ctx.progress(99, "stale progress")
        return "stale"

    job = await lro.submit("fenced")
    async with running_worker(lro, concurrency=1) as worker:
        await asyncio.wait_for(started.wait(), 5)
        # The lease "expires": the rescuer takes the job back and another worker claims it.
        later = utcnow() + timedelta(seconds=120)
        [rescued] = await lro.store.rescue_expired(
            RescueParams(now=later, retention_seconds=60, retry=RetryPolicy(base_seconds=0))
        )
        assert (rescued.status, rescued.attempt) == (Status.QUEUED, 1)
        [taken] = await lro.store.claim_jobs(ClaimParams("other-worker", 1, 300, later))
        assert taken.attempt == 2 and taken.lease_token is not None

        release_stale.set()
        await worker.wait_for(lambda s: s.lost == 1, timeout=5)
        current = await lro.store.get_job(job.id)
        assert current is not None
        assert (current.status, current.attempt, current.worker_id) == (
            Status.PROCESSING,
            2,
            "other-worker",
        )
        assert current.progress_pct == 0 and current.step is None

        [finished] = await lro.store.complete_jobs(
            [Completion(Lease(job.id, taken.lease_token), result="fresh")],
            later,
            lro.settings.retention_seconds,
        )
    assert finished is not None and finished.result == "fresh"
    assert worker.stats.completed == 0


async def test_graceful_stop_releases_a_long_job_for_another_worker(lro: LRO) -> None:
    runs: list[int] = []
    started = asyncio.Event()

    @lro.operation("long", max_attempts=1)
    async def long(ctx: JobContext) -> int:
        runs.append(ctx.attempt)
        if len(runs) == 1:
            started.set()
            await asyncio.Event().wait()
        return len(runs)

    job = await lro.submit("long")
    first = Worker(lro, 2)
    await first.start()
    await asyncio.wait_for(started.wait(), 5)
    await first.stop(grace=0.05)
    assert first.stats.released == 1
    released = await lro.store.get_job(job.id)
    assert released is not None
    # The interrupted run does not count: max_attempts=1 still allows the next one.
    assert (released.status, released.attempt, released.worker_id) == (Status.QUEUED, 0, None)

    async with running_worker(lro) as second:
        done = await wait_job(lro, job.id)
    assert (done.status, done.result, done.attempt) == (Status.COMPLETED, 2, 1)
    assert second.stats.completed == 1
    assert runs == [1, 1]


async def test_graceful_stop_lets_jobs_finish_within_the_grace(lro: LRO) -> None:
    started = asyncio.Event()

    @lro.operation("short")
    async def short(ctx: JobContext) -> str:
        started.set()
        await asyncio.sleep(0.1)
        return "finished"

    job = await lro.submit("short")
    worker = Worker(lro, 2)
    await worker.start()
    await asyncio.wait_for(started.wait(), 5)
    await worker.stop(grace=10)
    done = await lro.store.get_job(job.id)
    assert done is not None and done.status is Status.COMPLETED
    assert (worker.stats.completed, worker.stats.released) == (1, 0)


async def test_many_jobs_batch_through_a_small_worker(lro: LRO) -> None:
    @lro.operation("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    from lro import SubmitRequest

    jobs = await lro.submit_many([SubmitRequest("noop") for _ in range(300)])
    async with running_worker(lro, concurrency=8) as worker:
        await worker.wait_idle(20)
    assert worker.stats.completed == 300
    assert worker.stats.claimed == 300
    for job in jobs[::50]:
        stored = await lro.store.get_job(job.id)
        assert stored is not None and stored.status is Status.COMPLETED


async def test_run_until_stopped_returns_after_sigterm(lro: LRO) -> None:
    @lro.operation("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    worker = Worker(lro, 2)
    task = asyncio.create_task(worker.run_until_stopped())
    job = await lro.submit("noop")
    await wait_job(lro, job.id)  # the worker runs, so its signal handlers are installed
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, 10)
    assert worker.stats.completed == 1


async def test_a_job_whose_cancel_was_requested_is_not_retried_after_an_error(
    lro: LRO,
) -> None:
    """The handler fails (retryably) before it notices the cancel: the job ends
    `cancelled` instead of running again. Here the worker knows of the request; when it
    has not heard of it yet, the store's retry ends the job the same way (tests/contract,
    test_a_retry_of_a_job_whose_cancel_was_requested_ends_it_cancelled)."""
    runs: list[int] = []
    started = asyncio.Event()
    asked = asyncio.Event()

    @lro.operation("flaky", max_attempts=3)
    async def flaky(ctx: JobContext) -> None:
        runs.append(ctx.attempt)
        started.set()
        await asyncio.shield(asked.wait())  # not interrupted by the cancel's grace
        raise RuntimeError("upstream timed out")

    job = await lro.submit("flaky")
    async with running_worker(lro, cancel_grace=30) as worker:
        # The handler must be running: a job seen `processing` may not have started it
        # yet, and a cancel before it starts rightly ends the job without running it.
        await asyncio.wait_for(started.wait(), 5)
        changed = await lro.store.request_cancel(job.id, utcnow(), 60)
        assert changed is not None and changed.job.cancel_requested
        asked.set()
        done = await wait_job(lro, job.id)
    assert (done.status, done.attempt, done.error) == (Status.CANCELLED, 1, None)
    assert runs == [1]
    assert (worker.stats.cancelled, worker.stats.retried) == (1, 0)


async def test_a_released_job_whose_cancel_was_requested_is_cancelled_not_run(
    lro: LRO,
) -> None:
    """Found by the store's model-based test: a worker shutting down released a job whose
    cancel was requested a moment before (the release keeps it queued, with the request),
    and the next claim ran the handler again until a heartbeat brought the cancel. The
    claimed row already says cancel_requested: the job ends cancelled, unrun."""
    runs: list[str] = []

    @lro.operation("once")
    async def once(ctx: JobContext) -> None:
        runs.append(ctx.job_id)

    job = await lro.submit("once")
    now = utcnow()
    [claimed] = await lro.store.claim_jobs(ClaimParams("gone", 1, 30, now))
    await lro.store.request_cancel(job.id, now, lro.settings.retention_seconds)
    assert claimed.lease_token is not None
    [released] = await lro.store.release_jobs([Lease(job.id, claimed.lease_token)], now)
    assert released is not None
    assert (released.status, released.cancel_requested) == (Status.QUEUED, True)
    async with running_worker(lro) as worker:
        done = await wait_job(lro, job.id)
        await worker.wait_for(lambda s: s.cancelled == 1, timeout=5)
    assert done.status is Status.CANCELLED
    assert runs == []
