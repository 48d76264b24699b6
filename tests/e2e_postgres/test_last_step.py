"""Two API processes and a 4-slot worker on PostgreSQL: 20 sync jobs that report ten
quick steps each all end completed with their last step (issue 11, item 5: a progress
write in flight lost to the completion on another connection, and 4 of 20 such jobs
ended with step null)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tests.e2e_postgres.helpers import Cluster, submit_many, wait_until
from tests.support.procs import get_job

pytestmark = pytest.mark.postgres


@pytest.mark.timeout(180)
def test_quick_progress_sync_jobs_keep_their_last_step(cluster: Cluster) -> None:
    cluster.start(apis=2, workers=1, concurrency=4)
    bases = [api.base_url for api in cluster.apis]
    ids = asyncio.run(submit_many(bases, [("/steps", {"n": n}) for n in range(20)], in_flight=4))
    with httpx.Client(base_url=bases[1], timeout=10) as client:

        def all_done() -> list[dict[str, object]] | None:
            jobs = [get_job(client, job_id) for job_id in ids]
            return jobs if all(j["status"] == "completed" for j in jobs) else None

        jobs = wait_until(all_done, timeout=120, what="20 jobs to complete", cluster=cluster)
    for n, job in enumerate(jobs):
        assert job["progress_pct"] == 100, job
        assert job["step"] == f"step 10 of job {n}", job
