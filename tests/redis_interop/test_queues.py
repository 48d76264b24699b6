"""Per-operation BullMQ queues (HTTP-CONTRACT §19): a job submitted through lro goes to
the BullMQ queue named by its operation's `queue`; lro's own worker runs the jobs of
every queue of its operations, and a plain BullMQ worker on one queue sees only that
queue's jobs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from bullmq import Queue
from tests.redis_interop.helpers import job, start_api, start_py_worker, wait_job
from tests.support.procs import API, ProcessGroup

pytestmark = pytest.mark.redis


def submit_to(client: httpx.Client, route: str, **body: Any) -> str:
    r = client.post(f"{API}/{route}", json=body)
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    return job_id


def where(redis_url: str, job_id: str) -> dict[str, str | None]:
    """The BullMQ state of `job_id` in each of the two queues, read with BullMQ's own
    Queue API (None: that queue has no such job)."""

    async def read() -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for name in ("default", "media"):
            queue = Queue(name, {"connection": redis_url, "prefix": "bull"})
            try:
                found = await queue.getJob(job_id)
                out[name] = None if found is None else str(await queue.getJobState(job_id))
            finally:
                await queue.close()
        return out

    return asyncio.run(read())


def test_two_queues_hold_their_operations_jobs_and_lros_worker_runs_both(
    procs: ProcessGroup, redis_url: str
) -> None:
    base = start_api(procs, worker=True)
    with httpx.Client(base_url=base, timeout=10) as client:
        on_default = submit_to(client, "add", a=1, b=2)
        on_media = submit_to(client, "media", a=3, b=4)
        assert wait_job(client, on_default, "done", procs, status="completed")["result"] == {
            "sum": 3
        }
        assert wait_job(client, on_media, "done", procs, status="completed")["result"] == {"sum": 7}
    assert where(redis_url, on_default) == {"default": "completed", "media": None}
    assert where(redis_url, on_media) == {"default": None, "media": "completed"}


def test_a_plain_worker_on_media_sees_only_the_media_queue(
    procs: ProcessGroup, redis_url: str
) -> None:
    base = start_api(procs, worker=False)
    start_py_worker(procs, redis_url, "py-media", "--queue", "media")
    with httpx.Client(base_url=base, timeout=10) as client:
        on_default = submit_to(client, "add", a=1, b=2)
        on_media = submit_to(client, "media", a=3, b=4)
        done = wait_job(client, on_media, "done by the plain worker", procs, status="completed")
        assert done["result"] == {"sum": 7} and done["progress_pct"] == 100
        # The plain worker finished a job submitted after this one: it never saw it.
        assert job(client, on_default)["status"] == "queued"
    assert where(redis_url, on_default) == {"default": "waiting", "media": None}
    assert where(redis_url, on_media) == {"default": None, "media": "completed"}


def test_a_store_url_with_a_queue_is_refused(redis_url: str) -> None:
    """`?queue=` once chose the one queue of every job; a URL that still says it would
    now mean nothing, so it is refused rather than silently ignored."""
    from lro.store import open_store

    with pytest.raises(ValueError, match=r"queue named by its operation's queue"):
        open_store(redis_url + "?queue=media")
