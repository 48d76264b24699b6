"""Node BullMQ workers (npm `bullmq`, nothing of lro) and Bull Board on lro's jobs: a Node
worker finishes jobs submitted through lro (result, progress, signed webhook); a Node
worker SIGKILLed mid-job has its job recovered by BullMQ's stalled-job check and finished
by another; Bull Board's API lists the jobs submitted through lro with their progress and
return values."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook
from tests.redis_interop.conftest import SECRET
from tests.redis_interop.helpers import APP, sse_events, start_api, submit, wait_job
from tests.redis_interop.node_tools import start_board, start_node_worker
from tests.support.procs import ProcessGroup, wait_for
from tests.support.receiver import Receiver

pytestmark = pytest.mark.redis


@pytest.mark.smoke
def test_a_node_worker_finishes_jobs_submitted_through_lro(
    procs: ProcessGroup, redis_url: str, tmp_path: Path
) -> None:
    receiver = Receiver().start()
    base = start_api(procs, worker=False)
    node = start_node_worker(procs, redis_url, "node-worker")
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            job_id = submit(client, a=40, b=2, gate=str(tmp_path), callback_url=receiver.url)
            wait_job(client, job_id, "at 40%", procs, status="processing", progress_pct=40)
            (tmp_path / f"{job_id}.go").touch()
            done = wait_job(client, job_id, "completed", procs, status="completed")
            assert done["result"] == {"sum": 42, "pid": node.pid}
            assert (done["progress_pct"], done["step"], done["attempt"]) == (100, "adding", 1)
            progress = [(e["data"]["progress_pct"], e["event"]) for e in sse_events(client, job_id)]
            assert (40, "progress") in progress and progress[-1] == (100, "completed")
            [request] = receiver.wait_requests(1)
            payload = Webhook(SECRET).verify(request.body, request.headers)
            assert (payload["type"], payload["data"]["result"]) == (
                "job.completed",
                {"sum": 42, "pid": node.pid},
            )
    finally:
        receiver.stop()


def test_a_node_worker_killed_mid_job_is_recovered_by_bullmq(
    procs: ProcessGroup, redis_url: str, tmp_path: Path
) -> None:
    base = start_api(procs, worker=False)
    first = start_node_worker(procs, redis_url, "node-first")
    with httpx.Client(base_url=base, timeout=10) as client:
        job_id = submit(client, a=1, b=2, gate=str(tmp_path))
        wait_job(client, job_id, "taken by the first worker", procs, status="processing")
        wait_for(lambda: f"active {job_id}" in first.log(), timeout=10, what="first worker")
        first.signal(signal.SIGKILL)
        first.wait_exit(10)
        second = start_node_worker(procs, redis_url, "node-second")
        # BullMQ's stalled check (in the second worker) finds the dead worker's lock gone,
        # puts the job back, and the second worker takes it: lro sees a second attempt.
        wait_for(
            lambda: f"active {job_id}" in second.log(),
            timeout=30,
            what="the second worker to take the stalled job",
            diagnostics=procs.logs,
        )
        wait_job(client, job_id, "on its second attempt", procs, status="processing", attempt=2)
        (tmp_path / f"{job_id}.go").touch()
        done = wait_job(client, job_id, "completed", procs, status="completed")
        assert done["result"] == {"sum": 3, "pid": second.pid}
        statuses = [e["data"]["status"] for e in sse_events(client, job_id)]
        # queued, processing (first worker), queued again (recovered), processing, ...
        assert statuses.count("queued") >= 2 and statuses[-1] == "completed"


def test_bull_board_lists_jobs_submitted_through_lro(procs: ProcessGroup, redis_url: str) -> None:
    base = start_api(procs, worker=False)
    procs.start("worker", ["worker", APP])
    board = start_board(procs, redis_url)
    with httpx.Client(base_url=base, timeout=10) as client:
        ids = [submit(client, a=n, b=n) for n in (1, 2)]
        for job_id in ids:
            wait_job(client, job_id, "completed", procs, status="completed")
    with httpx.Client(base_url=board, timeout=10) as ui:
        r = ui.get("/ui/api/queues", params={"activeQueue": "default", "status": "completed"})
        assert r.status_code == 200, r.text
        [queue] = [q for q in r.json()["queues"] if q["name"] == "default"]
        jobs = {j["id"]: j for j in queue["jobs"]}
        assert set(ids) <= set(jobs)
        for n, job_id in zip((1, 2), ids, strict=True):
            listed = jobs[job_id]
            assert listed["name"] == "interop.add"
            assert listed["returnValue"] == {"sum": 2 * n}
            assert listed["progress"] == {"pct": 100, "step": "adding"}
            assert listed["data"]["a"] == n
        assert queue["counts"]["completed"] >= 2
