"""A plain Python BullMQ worker (py_worker.py: the `bullmq` package alone, nothing of lro)
runs jobs submitted through lro's HTTP API; its progress, return value and thrown error
show in lro's job resource, SSE stream and signed webhooks (HTTP-CONTRACT §19)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest
from bullmq import Queue
from standardwebhooks import Webhook
from tests.redis_interop.conftest import SECRET
from tests.redis_interop.helpers import (
    APP,
    deliveries,
    sse_events,
    start_api,
    start_py_worker,
    submit,
    wait_job,
)
from tests.support.procs import ProcessGroup, start_server, wait_for
from tests.support.receiver import Receiver

pytestmark = pytest.mark.redis


@pytest.mark.smoke
def test_progress_result_sse_and_webhook_of_a_plain_python_worker(
    procs: ProcessGroup, redis_url: str, tmp_path: Path
) -> None:
    receiver = Receiver().start()
    base = start_api(procs, worker=False)
    start_py_worker(procs, redis_url)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            job_id = submit(client, a=2, b=3, gate=str(tmp_path), callback_url=receiver.url)
            running = wait_job(client, job_id, "at 40%", procs, progress_pct=40)
            assert (running["status"], running["attempt"], running["step"]) == (
                "processing",
                1,
                None,
            )
            (tmp_path / f"{job_id}.go").touch()
            done = wait_job(client, job_id, "completed", procs, status="completed")
            assert done["result"] == {"sum": 5}
            assert (done["progress_pct"], done["step"], done["attempt"]) == (100, "adding", 1)
            assert done["error"] is None

            events = sse_events(client, job_id)
            ids = [e["id"] for e in events]
            assert ids == sorted(set(ids)) and ids[0] == 1
            kinds = [(e["event"], e["data"]["status"]) for e in events]
            assert kinds[0] == ("status", "queued")
            assert ("status", "processing") in kinds
            assert kinds[-1] == ("completed", "completed")
            progress = [(e["data"]["progress_pct"], e["data"]["step"]) for e in events]
            assert (40, None) in progress and (70, "adding") in progress

            [request] = receiver.wait_requests(1)
            payload = Webhook(SECRET).verify(request.body, request.headers)
            assert payload["type"] == "job.completed"
            assert payload["data"]["job_id"] == job_id
            assert payload["data"]["result"] == {"sum": 5}
            wait_for(
                lambda: deliveries(client, job_id)[0]["status"] == "delivered",
                timeout=30,
                what="the delivery to be recorded",
            )
    finally:
        receiver.stop()


def test_a_thrown_error_is_a_bullmq_failed_error(procs: ProcessGroup, redis_url: str) -> None:
    receiver = Receiver().start()
    base = start_api(procs, worker=False)
    start_py_worker(procs, redis_url)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            job_id = submit(client, a=1, b=1, fail="row 3 is empty", callback_url=receiver.url)
            # max_attempts 2: BullMQ retries once, then gives up.
            failed = wait_job(client, job_id, "failed", procs, status="failed")
            error = failed["error"]
            assert (error["code"], error["detail"], error["attempts"]) == (
                "bullmq_failed",
                "row 3 is empty",
                2,
            )
            assert failed["result"] is None and failed["attempt"] == 2
            [request] = receiver.wait_requests(1)
            payload = Webhook(SECRET).verify(request.body, request.headers)
            assert payload["type"] == "job.failed"
            assert payload["data"]["error"]["code"] == "bullmq_failed"
            terminal = sse_events(client, job_id, last_event_id=1)[-1]
            assert (terminal["event"], terminal["data"]["error"]["detail"]) == (
                "failed",
                "row 3 is empty",
            )
    finally:
        receiver.stop()


def test_what_a_plain_worker_did_while_no_lro_process_ran_is_caught_up(
    procs: ProcessGroup, redis_url: str, tmp_path: Path
) -> None:
    """The feed's cursor in BullMQ's event stream is kept in Redis: a job a plain worker
    finished while every lro process was down is completed (and its webhook sent) when
    an lro process starts again."""
    receiver = Receiver().start()
    api = start_api(procs, worker=False)
    start_py_worker(procs, redis_url)
    try:
        with httpx.Client(base_url=api, timeout=10) as client:
            job_id = submit(client, a=5, b=6, gate=str(tmp_path), callback_url=receiver.url)
            wait_job(client, job_id, "at 40%", procs, progress_pct=40)
        server = next(p for p in procs.procs if p.name == "api")
        server.signal(signal.SIGTERM)
        server.wait_exit(30)
        (tmp_path / f"{job_id}.go").touch()
        wait_for(
            lambda: bullmq_state(redis_url, job_id) == "completed",
            timeout=30,
            what="the plain worker to finish the job while lro is down",
        )
        again = start_server(procs, worker=False, name="api-again", extra=[APP])
        with httpx.Client(base_url=again, timeout=10) as client:
            done = wait_job(client, job_id, "completed", procs, status="completed")
            assert done["result"] == {"sum": 11}
            [request] = receiver.wait_requests(1)
            assert Webhook(SECRET).verify(request.body, request.headers)["type"] == (
                "job.completed"
            )
    finally:
        receiver.stop()


def bullmq_state(redis_url: str, job_id: str) -> str:
    async def read() -> str:
        queue = Queue("default", {"connection": redis_url, "prefix": "bull"})
        try:
            return str(await queue.getJobState(job_id))
        finally:
            await queue.close()

    return asyncio.run(read())


def test_a_worker_that_removes_finished_jobs_still_ends_them_in_lro(
    procs: ProcessGroup, redis_url: str, tmp_path: Path
) -> None:
    """removeOnComplete / removeOnFail: BullMQ deletes the job as it finishes, so lro
    takes the outcome from the event (returnvalue, failedReason) and keeps its record."""
    base = start_api(procs, worker=False)
    start_py_worker(procs, redis_url, "py-worker", "--remove")
    with httpx.Client(base_url=base, timeout=10) as client:
        ok = submit(client, a=7, b=8, gate=str(tmp_path))
        wait_job(client, ok, "at 40%", procs, progress_pct=40)
        (tmp_path / f"{ok}.go").touch()
        done = wait_job(client, ok, "completed", procs, status="completed")
        assert done["result"] == {"sum": 15}
        bad = submit(client, a=1, b=1, fail="no such row")
        failed = wait_job(client, bad, "failed", procs, status="failed")
        assert (failed["error"]["code"], failed["error"]["detail"]) == (
            "bullmq_failed",
            "no such row",
        )
