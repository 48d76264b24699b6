"""The worker registry on Redis (HTTP-CONTRACT §18): an `lro worker` on the Redis store
is listed by `GET /api/v1/workers` and `lro workers` of an API process beside it, with
the queues it serves, and leaves the list when it stops."""

from __future__ import annotations

import json
import signal

import httpx
import pytest
from tests.redis_interop.helpers import APP, start_api, wait_job
from tests.support.procs import API, ProcessGroup, wait_for

pytestmark = pytest.mark.redis


def listed(client: httpx.Client) -> list[dict[str, object]]:
    answer = client.get(f"{API}/workers")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def test_a_redis_worker_is_listed_and_leaves_the_list_when_it_stops(
    procs: ProcessGroup,
) -> None:
    base = start_api(procs, worker=False)
    worker = procs.start("worker", ["worker", APP, "--queues", "media", "--concurrency", "3"])
    with httpx.Client(base_url=base, timeout=10) as client:
        [item] = wait_for(
            lambda: [w for w in listed(client) if w["pid"] == worker.pid] or None,
            timeout=30,
            what="the worker to register",
            diagnostics=procs.logs,
        )
        assert (item["queues"], item["operations"]) == (["media"], ["interop.media"])
        assert item["concurrency"] == 3

        answer = client.post(f"{API}/media", json={"a": 1, "b": 1})
        assert answer.status_code == 202, answer.text
        done = wait_job(client, answer.json()["job_id"], "done", procs, status="completed")
        assert done["result"] == {"sum": 2}

        shown = procs.run(["workers", "--url", base, "--json"])
        assert shown.returncode == 0, shown.stderr
        assert [w["worker_id"] for w in json.loads(shown.stdout)["items"]] == [item["worker_id"]]

        worker.signal(signal.SIGTERM)
        assert worker.wait_exit(timeout=30) == 0
        assert listed(client) == []
