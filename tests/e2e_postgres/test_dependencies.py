"""A dependency across a worker crash, with real processes on PostgreSQL: the worker
running the parent is SIGKILLed mid-run; the parent's lease runs out, another worker runs
it again (attempt 2), and its completion releases the child in the same transaction, which
then runs once. There is no moment between a parent's completion and its dependents'
release for a crash to fall into: they commit together."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from tests.e2e_postgres.helpers import Cluster, wait_until
from tests.support.procs import get_job

pytestmark = pytest.mark.postgres


@pytest.mark.timeout(180)
def test_a_killed_parent_runs_again_then_releases_its_child(cluster: Cluster) -> None:
    cluster.group.env["LRO_LEASE_SECONDS"] = "2"
    cluster.start(apis=1, workers=2, concurrency=1)
    base = cluster.apis[0].base_url
    with httpx.Client(base_url=base, timeout=30) as api:
        parent = api.post("/api/v1/sleep", json={"ms": 4000}).json()
        child = api.post("/api/v1/sleep", json={"ms": 1, "depends_on": [parent["job_id"]]}).json()
        assert child["waiting_on"] == [parent["job_id"]]

        def parent_running() -> int | None:
            runs = cluster.runlog.by_job("start").get(parent["job_id"], [])
            return runs[0].pid if runs else None

        pid = wait_until(parent_running, timeout=60, what="the parent started", cluster=cluster)
        [victim] = [w for w in cluster.workers if w.pid == pid]
        cluster.kill(victim)
        assert get_job(api, child["job_id"])["status"] == "queued"

        def child_done() -> dict[str, object] | None:
            job = get_job(api, child["job_id"])
            return job if job["status"] == "completed" else None

        done = wait_until(child_done, timeout=120, what="the child completed", cluster=cluster)
        ran = get_job(api, parent["job_id"])
    assert (ran["status"], ran["attempt"]) == ("completed", 2)
    assert (done["attempt"], done["waiting_on"]) == (1, [])
    started = dt.datetime.fromisoformat(str(done["started_at"]))
    assert started >= dt.datetime.fromisoformat(str(ran["finished_at"]))
    assert len(cluster.runlog.by_job("start")[child["job_id"]]) == 1
