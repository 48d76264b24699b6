"""Long jobs on the Redis backend with plain BullMQ workers (HTTP-CONTRACT §14, §19): a
Node or Python BullMQ worker's `job.updateProgress({"partial": value})` is an lro partial
result (GET /partials, SSE `event: partial`, in the order made, before the terminal
event), and `POST /jobs/{id}/retry` puts a failed job back where a plain BullMQ worker
takes it again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.redis_interop.helpers import (
    APP,
    sse_events,
    start_api,
    start_py_worker,
    submit,
    wait_job,
)
from tests.redis_interop.node_tools import start_node_worker
from tests.support.procs import API, LroProcess, ProcessGroup, start_server, wait_for

pytestmark = pytest.mark.redis

VALUES: list[Any] = [{"row": 1}, "two", [3, 4], None, 5.5]


def _node(procs: ProcessGroup, redis_url: str) -> LroProcess:
    return start_node_worker(procs, redis_url, "node-worker")


def _python(procs: ProcessGroup, redis_url: str) -> LroProcess:
    return start_py_worker(procs, redis_url)


WORKERS: dict[str, Callable[[ProcessGroup, str], LroProcess]] = {
    "node": _node,
    "python": _python,
}


def submit_partials(client: httpx.Client, **body: Any) -> str:
    r = client.post(f"{API}/add-partials", json=body)
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    return job_id


def partials(client: httpx.Client, job_id: str, **params: int) -> dict[str, Any]:
    r = client.get(f"{API}/jobs/{job_id}/partials", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_a_plain_workers_partial_progress_is_an_lro_partial(
    procs: ProcessGroup, redis_url: str, tmp_path: Path, worker: str
) -> None:
    base = start_api(procs, worker=False)
    WORKERS[worker](procs, redis_url)
    with httpx.Client(base_url=base, timeout=10) as client:
        job_id = submit_partials(client, a=1, b=2, gate=str(tmp_path), partials=VALUES)
        wait_job(client, job_id, "at 40%", procs, status="processing", progress_pct=40)
        assert partials(client, job_id) == {"items": [], "next_after": 0}
        (tmp_path / f"{job_id}.go").touch()
        done = wait_job(client, job_id, "completed", procs, status="completed")
        assert (done["result"]["sum"], done["progress_pct"], done["step"]) == (3, 100, "adding")

        body = partials(client, job_id)
        assert [(i["seq"], i["data"]) for i in body["items"]] == list(enumerate(VALUES, start=1))
        assert body["next_after"] == len(VALUES)
        assert [i["data"] for i in partials(client, job_id, after=2, limit=2)["items"]] == [
            [3, 4],
            None,
        ]

        events = sse_events(client, job_id)
        ids = [e["id"] for e in events]
        assert ids == sorted(set(ids))
        names = [e["event"] for e in events]
        shown = [e["data"] for e in events if e["event"] == "partial"]
        assert shown == [{"seq": n, "data": v} for n, v in enumerate(VALUES, start=1)]
        first, last = names.index("partial"), len(names) - 1 - names[::-1].index("partial")
        assert names[first : last + 1] == ["partial"] * len(VALUES)
        assert names[-1] == "completed" and "progress" in names[:first]
        # The 70% "adding" progress came after the partials, as the worker made it.
        after = [(e["data"]["progress_pct"], e["data"]["step"]) for e in events[last + 1 :]]
        assert (70, "adding") in after
        # Resuming the stream after the first partial replays the rest, in order.
        resumed = sse_events(client, job_id, last_event_id=ids[first])
        assert [e["data"] for e in resumed if e["event"] == "partial"] == shown[1:]


def test_a_second_process_adds_no_partial_twice(
    procs: ProcessGroup, redis_url: str, tmp_path: Path
) -> None:
    """Every lro process reads BullMQ's events and syncs the jobs they name: the job
    remembers the last progress event it took, so two API processes write each partial
    once."""
    base = start_api(procs, worker=False)
    other = start_server(procs, worker=False, name="api-2", extra=[APP])
    start_py_worker(procs, redis_url)
    with httpx.Client(base_url=base, timeout=10) as client:
        job_id = submit_partials(client, a=2, b=2, partials=VALUES)
        wait_job(client, job_id, "completed", procs, status="completed")
    with httpx.Client(base_url=other, timeout=10) as client:
        body = partials(client, job_id)
        assert [(i["seq"], i["data"]) for i in body["items"]] == list(enumerate(VALUES, start=1))
        kinds = [e["event"] for e in sse_events(client, job_id)]
        assert kinds.count("partial") == len(VALUES)


def test_retry_puts_a_failed_job_back_for_a_plain_worker(
    procs: ProcessGroup, redis_url: str
) -> None:
    base = start_api(procs, worker=False)
    node = start_node_worker(procs, redis_url, "node-worker")
    with httpx.Client(base_url=base, timeout=10) as client:
        job_id = submit(client, a=1, b=1, fail="no such row")
        failed = wait_job(client, job_id, "failed", procs, status="failed")
        assert (failed["attempt"], failed["error"]["detail"]) == (2, "no such row")
        assert node.log().count(f"active {job_id}") == 2  # BullMQ's own retry (attempts 2)

        r = client.post(f"{API}/jobs/{job_id}/retry")
        assert r.status_code == 202, r.text
        assert (r.json()["status"], r.json()["error"]) == ("queued", None)
        # The Node worker takes it again off BullMQ's wait list, and fails it again.
        wait_for(
            lambda: node.log().count(f"active {job_id}") == 3,
            timeout=30,
            what="the Node worker to take the retried job",
            diagnostics=procs.logs,
        )
        again = wait_job(client, job_id, "failed again", procs, status="failed", attempt=3)
        assert again["error"]["detail"] == "no such row"


def test_lro_workers_steps_and_partials_on_redis(procs: ProcessGroup, tmp_path: Path) -> None:
    """lro's own worker on the Redis store: ctx.partial makes the same partials, and a
    completed job refuses a retry (409)."""
    base = start_api(procs, worker=False)
    procs.start("worker", ["worker", APP])
    with httpx.Client(base_url=base, timeout=10) as client:
        job_id = submit_partials(client, a=3, b=4, partials=VALUES)
        wait_job(client, job_id, "completed", procs, status="completed")
        body = partials(client, job_id)
        assert [i["data"] for i in body["items"]] == VALUES
        shown = [e["data"] for e in sse_events(client, job_id) if e["event"] == "partial"]
        assert shown == [{"seq": n, "data": v} for n, v in enumerate(VALUES, start=1)]
        r = client.post(f"{API}/jobs/{job_id}/retry")
        assert r.status_code == 409, r.text
        r = client.get(f"{API}/jobs/{job_id}/steps")
        assert r.status_code == 200 and r.json() == {"items": []}
