"""Changes cross process boundaries through PostgreSQL LISTEN/NOTIFY: a worker's change
reaches the waiters of another API process (`Prefer: wait`, long poll) and a cancel that
arrives at one API process reaches the worker process running the job.

No timing is asserted: each wait is long enough that a missed notification shows as the
wrong answer (a 202 instead of the finished job, a 304 "not modified" instead of the new
state), never as a slow right one.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import httpx
import pytest
from tests.e2e_postgres.helpers import Cluster, wait_until
from tests.support.procs import API, is_terminal, wait_job

pytestmark = pytest.mark.postgres


def submit(client: httpx.Client, route: str, body: dict[str, object]) -> str:
    resp = client.post(f"{API}{route}", json=body)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["job_id"])


@pytest.mark.smoke
def test_changes_and_cancels_cross_processes(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start(apis=2, workers=1, concurrency=4)
    [worker] = cluster.workers
    api_pids = {api.proc.pid for api in cluster.apis}
    with (
        httpx.Client(base_url=cluster.apis[0].base_url, timeout=30) as api1,
        httpx.Client(base_url=cluster.apis[1].base_url, timeout=30) as api2,
    ):
        # 1. Prefer: wait on API #1 is answered by the worker's completion, made in another
        #    process: 200 with the final job, not the 202 a timed-out wait gives.
        resp = api1.post(f"{API}/sleep", json={"ms": 50}, headers={"Prefer": "wait=10"})
        assert resp.status_code == 200, resp.text
        assert resp.headers["Preference-Applied"] == "wait=10"
        job = resp.json()
        assert job["status"] == "completed", job
        [run] = cluster.runlog.by_job("end")[job["job_id"]]
        assert run.pid == worker.pid and run.pid not in api_pids

        # 2. A long poll on API #2 wakes when the worker finishes a job submitted on API #1.
        #    With If-None-Match set to the `processing` state, a wait that ran out would
        #    answer 304; the new state answers 200.
        gate = tmp_path / "gate"
        job_id = submit(api1, "/gate", {"gate": str(gate)})
        wait_job(api2, job_id, lambda j: j["status"] == "processing", what="to start")
        etag = api2.get(f"{API}/jobs/{job_id}").headers["ETag"]
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            polling = pool.submit(
                api2.get,
                f"{API}/jobs/{job_id}",
                params={"wait": 20},
                headers={"If-None-Match": etag},
            )
            # Not a correctness wait: it only makes it likely that the poll is already
            # parked when the job changes, so the wake-up path is what gets exercised.
            # (Arriving later, the poll sees the changed job at once: same answer.)
            time.sleep(0.5)
            gate.touch()
            resp = polling.result(timeout=40)
        assert resp.status_code == 200, f"{resp.status_code}: the long poll was never woken"
        assert resp.json()["status"] == "completed", resp.json()
        assert resp.headers["ETag"] != etag

        # 3. A cancel sent to API #2 reaches the worker process running the job (submitted
        #    on API #1): its handler sees ctx.cancelled and the job ends `cancelled`.
        job_id = submit(api1, "/gate", {"gate": str(tmp_path / "never"), "max_seconds": 120})
        # The handler's own start, not the job's `processing`: a job handed to an idle
        # worker is stored processing at submit, before its handler has begun, and a
        # cancel that early ends it without the handler ever seeing ctx.cancelled.
        wait_until(
            lambda: job_id in cluster.runlog.by_job("start"),
            timeout=30,
            what="the handler to start",
            cluster=cluster,
        )
        resp = api2.post(f"{API}/jobs/{job_id}/cancel")
        assert resp.status_code == 202, resp.text
        job = wait_job(api1, job_id, is_terminal, what="to be cancelled", timeout=30)
        assert job["status"] == "cancelled", job
        [seen] = cluster.runlog.by_job("cancel")[job_id]
        assert seen.pid == worker.pid

    cluster.assert_alive()
