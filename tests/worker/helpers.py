"""Waiting helpers for worker tests: they wait on store notifications, never on sleeps,
and every one of them takes a timeout."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable

from lro import LRO, Job
from lro.worker import Worker

WAIT = 10.0
"""Default bound on any wait; a test that hits it has hung, not run slowly."""


async def wait_job(
    lro: LRO,
    job_id: str,
    until: Callable[[Job], bool] = lambda job: job.is_terminal,
    timeout: float = WAIT,
) -> Job:
    """Wait until the stored job satisfies `until`; woken by the store's change
    notifications (the waiter is registered before each read, so none is missed)."""
    deadline = time.monotonic() + timeout
    with lro.hub.job_waiter(job_id) as waiter:
        while True:
            job = await lro.store.get_job(job_id)
            assert job is not None, f"job {job_id} vanished"
            if until(job):
                return job
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"job {job_id} did not get there within {timeout} s: {job}")
            await waiter.wait(remaining)


@contextlib.asynccontextmanager
async def running_worker(
    lro: LRO, concurrency: int = 4, *, grace: float = 0.0, **kwargs: float
) -> AsyncIterator[Worker]:
    """A started Worker, stopped (after `grace`) when the block ends."""
    worker = lro.worker(concurrency, **kwargs)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop(grace)
