"""lro's own worker on Redis (`lro worker --store redis://...`): it runs the registered
handlers on the BullMQ jobs, and what it does shows on BullMQ's side too (state,
progress, return value), as any BullMQ tool reads it; here the `bullmq` package's own
Queue API. A cancelled job ends `cancelled` in lro and failed, with the reason
"cancelled through lro", in BullMQ (which has no cancelled state)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from bullmq import Queue
from tests.redis_interop.helpers import APP, sse_events, start_api, submit, wait_job
from tests.support.procs import API, ProcessGroup, wait_for

pytestmark = pytest.mark.redis


def bullmq_job(redis_url: str, job_id: str) -> dict[str, Any]:
    """What BullMQ's own Queue API says of a job."""

    async def read() -> dict[str, Any]:
        queue = Queue("default", {"connection": redis_url, "prefix": "bull"})
        try:
            job = await queue.getJob(job_id)
            assert job is not None, f"BullMQ has no job {job_id}"
            return {
                "state": await queue.getJobState(job_id),
                "name": job.name,
                "data": job.data,
                "progress": job.progress,
                "returnvalue": job.returnvalue,
                "failedReason": job.failedReason,
                "attempts": job.opts.get("attempts"),
            }
        finally:
            await queue.close()

    return asyncio.run(read())


def test_lro_worker_runs_bullmq_jobs_and_bullmq_sees_it(
    procs: ProcessGroup, redis_url: str, tmp_path: Path
) -> None:
    base = start_api(procs, worker=False)
    procs.start("worker", ["worker", APP, "--concurrency", "4"])
    with httpx.Client(base_url=base, timeout=10) as client:
        job_id = submit(client, a=20, b=22, gate=str(tmp_path))
        wait_job(client, job_id, "at 40%", procs, progress_pct=40, step="started")
        seen = bullmq_job(redis_url, job_id)
        assert (seen["state"], seen["name"], seen["attempts"]) == ("active", "interop.add", 2)
        assert seen["data"] == {"a": 20, "b": 22, "gate": str(tmp_path), "fail": None, "ms": 0}
        assert seen["progress"] == {"pct": 40, "step": "started"}

        (tmp_path / f"{job_id}.go").touch()
        done = wait_job(client, job_id, "completed", procs, status="completed")
        assert (done["result"], done["step"]) == ({"sum": 42}, "adding")
        finished = bullmq_job(redis_url, job_id)
        assert finished["state"] == "completed"
        assert finished["returnvalue"] == {"sum": 42}


def test_a_cancelled_job_is_cancelled_never_failed(
    procs: ProcessGroup, redis_url: str, tmp_path: Path
) -> None:
    base = start_api(procs, worker=False)
    procs.start("worker", ["worker", APP])
    with httpx.Client(base_url=base, timeout=10) as client:
        running = submit(client, a=1, b=2, gate=str(tmp_path))  # the gate never opens
        wait_job(client, running, "running", procs, status="processing", progress_pct=40)
        r = client.post(f"{API}/jobs/{running}/cancel")
        assert r.status_code == 202, r.text
        ended = wait_job(client, running, "cancelled", procs, status="cancelled")
        assert ended["error"] is None and ended["cancel_requested"] is True
        assert sse_events(client, running, last_event_id=1)[-1]["event"] == "cancelled"
        bull = bullmq_job(redis_url, running)
        assert (bull["state"], bull["failedReason"]) == ("failed", "cancelled through lro")

        # A queued job is cancelled at once, and no BullMQ worker can take it any more.
        procs.procs[-1].kill()
        queued = submit(client, a=1, b=2)
        r = client.post(f"{API}/jobs/{queued}/cancel")
        assert r.status_code == 202 and r.json()["status"] == "cancelled", r.text
        wait_for(
            lambda: bullmq_job(redis_url, queued)["state"] == "failed",
            timeout=10,
            what="BullMQ to list the cancelled job as failed",
        )
        body = json.dumps(bullmq_job(redis_url, queued))
        assert "cancelled through lro" in body
