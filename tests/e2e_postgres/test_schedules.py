"""One 1 s interval schedule fired for 10 s by two API processes and two workers on one
PostgreSQL database (every one of them runs a scheduler): exactly one job per due time.

The firing rows' due times are the proof: each is the schedule's grid (created + k s),
no due time has two rows (nor could it: the key), and every firing made exactly one job,
which carries the tag `schedule:<id>`."""

from __future__ import annotations

import itertools
from datetime import timedelta

import httpx
import pytest
from tests.e2e_postgres.helpers import Cluster, wait_until
from tests.e2e_postgres.test_handoff import query

pytestmark = pytest.mark.postgres

FIRINGS = 10


@pytest.mark.timeout(180)
def test_four_processes_fire_one_job_per_due_time(cluster: Cluster) -> None:
    cluster.start(apis=2, workers=2, concurrency=2)
    body = {
        "schedule_id": "tick",
        "operation": "e2e.sleep",
        "params": {"ms": 1},
        "interval_seconds": 1,
        "overlap": "allow",
    }
    with httpx.Client(timeout=10) as client:
        r = client.post(f"{cluster.apis[0].base_url}/api/v1/schedules", json=body)
        assert r.status_code == 201, r.text

        def fired() -> int | None:
            n = int(query(cluster.database, "SELECT count(*) FROM lro_schedule_firings")[0][0])
            return n if n >= FIRINGS else None

        wait_until(fired, timeout=90, what=f"{FIRINGS} firings", cluster=cluster)
        # Pausing is a write under the schedule row's lock: once it answers, no firing
        # can commit any more, so what is stored now is final.
        paused = client.patch(
            f"{cluster.apis[1].base_url}/api/v1/schedules/tick", json={"paused": True}
        )
        assert paused.status_code == 200, paused.text
        firings = query(
            cluster.database, "SELECT due_at, job_id FROM lro_schedule_firings ORDER BY due_at"
        )
        jobs = query(
            cluster.database,
            "SELECT id FROM lro_jobs WHERE tags @> '[\"schedule:tick\"]'",
        )
        gone = client.delete(f"{cluster.apis[1].base_url}/api/v1/schedules/tick")
        assert gone.status_code == 204
    assert len(firings) >= FIRINGS
    # Every job is one firing's, and every firing made one job.
    assert sorted(str(j[0]) for j in jobs) == sorted(str(f[1]) for f in firings)
    # The due times lie on the schedule's 1 s grid, each once (a period skipped while
    # every process was busy would show as a gap of 2 s, never as a repeat).
    dues = [f[0] for f in firings]
    steps = [(b - a) / timedelta(seconds=1) for a, b in itertools.pairwise(dues)]
    assert all(step >= 1 and abs(step - round(step)) < 1e-6 for step in steps), steps
    assert query(cluster.database, "SELECT count(*) FROM lro_schedule_firings")[0][0] == 0
    cluster.assert_alive()
