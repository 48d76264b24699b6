"""lro's worker and a plain BullMQ worker on one queue at once: each job is run exactly
once, by one or the other (lro's claim takes a job out of BullMQ's waiting states in the
same script, and skips one a BullMQ worker already took)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from bullmq import Queue
from tests.redis_interop.helpers import APP, job, start_api, start_py_worker, submit
from tests.support.procs import ProcessGroup, wait_for

pytestmark = pytest.mark.redis

JOBS = 60


def attempts_started(redis_url: str, ids: list[str]) -> dict[str, int]:
    async def read() -> dict[str, int]:
        queue = Queue("default", {"connection": redis_url, "prefix": "bull"})
        try:
            out = {}
            for job_id in ids:
                found = await queue.getJob(job_id)
                assert found is not None
                out[job_id] = int(found.attemptsStarted)
            return out
        finally:
            await queue.close()

    return asyncio.run(read())


def test_lro_and_bullmq_workers_share_a_queue_without_running_a_job_twice(
    procs: ProcessGroup, redis_url: str
) -> None:
    base = start_api(procs, worker=False)
    procs.start("lro-worker", ["worker", APP, "--concurrency", "4"])
    start_py_worker(procs, redis_url)
    with httpx.Client(base_url=base, timeout=10) as client:
        ids = [submit(client, a=n, b=1) for n in range(JOBS)]

        def all_done() -> list[dict[str, object]] | None:
            jobs = [job(client, i) for i in ids]
            return jobs if all(j["status"] == "completed" for j in jobs) else None

        done = wait_for(
            all_done, timeout=60, what=f"{JOBS} jobs to complete", diagnostics=procs.logs
        )
    assert [j["result"] for j in done] == [{"sum": n + 1} for n in range(JOBS)]
    assert {j["attempt"] for j in done} == {1}
    assert set(attempts_started(redis_url, ids).values()) == {1}
