"""Direct hand-off with real processes: a parked worker that is SIGKILLed gets no job.

Its park row outlives it, but the advisory lock its LISTEN session held went with the
process, so the next submit finds the worker dead, queues the job and clears the park. A
worker started later claims the job on its first attempt: a hand-off never burns an
attempt on a dead process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import httpx
import pytest
from tests.e2e_postgres.helpers import Cluster, wait_until
from tests.support.postgres import url_for
from tests.support.procs import API

from lro.store.postgres.handoff import HANDOFF_LOCK_CLASS

pytestmark = pytest.mark.postgres

WAIT = 30.0


def query(database: str, sql: str) -> list[tuple[object, ...]]:
    """One plain connection per look: these run in wait loops, and a store would open a
    pool and check the schema each time."""

    async def read() -> list[tuple[object, ...]]:
        conn = await asyncpg.connect(url_for(database), timeout=5)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(read())


def parked(database: str) -> list[str]:
    return [str(r[0]) for r in query(database, "SELECT worker_id FROM lro_idle_workers")]


def liveness_lock_held(database: str) -> bool:
    """Whether the parked worker's advisory lock (postgres_handoff) is still held."""
    return bool(
        query(
            database,
            "SELECT 1 FROM lro_idle_workers w JOIN pg_locks l ON l.locktype = 'advisory'"
            f" AND l.classid = {HANDOFF_LOCK_CLASS} AND l.objid = w.lock_key AND l.granted",
        )
    )


def completed(client: httpx.Client, job_id: str) -> Callable[[], dict[str, object] | None]:
    def check() -> dict[str, object] | None:
        job: dict[str, object] = client.get(f"{API}/jobs/{job_id}").json()
        return job if job["status"] == "completed" else None

    return check


@pytest.mark.smoke
@pytest.mark.timeout(120)
def test_a_killed_parked_worker_gets_no_job(cluster: Cluster) -> None:
    cluster.start(apis=1, workers=1, concurrency=2)
    [dead] = cluster.workers

    def some_parked() -> list[str] | None:
        return parked(cluster.database) or None

    # An idle worker's first claim comes back empty and parks it.
    [worker_id] = wait_until(some_parked, timeout=WAIT, what="a parked worker", cluster=cluster)
    assert worker_id.split(":")[1] == str(dead.pid)

    with httpx.Client(base_url=cluster.apis[0].base_url, timeout=10) as client:
        handed = client.post(f"{API}/sleep", json={"ms": 10})
        assert handed.status_code == 202
        first = wait_until(
            completed(client, handed.json()["job_id"]),
            timeout=WAIT,
            what="the handed-off job to complete",
            cluster=cluster,
        )
        assert first["attempt"] == 1
        wait_until(some_parked, timeout=WAIT, what="the worker parked again", cluster=cluster)

        assert liveness_lock_held(cluster.database)  # alive: its session holds the lock
        cluster.kill(dead)
        # The server ends the dead process's sessions (and so its lock) once it reads the
        # closed sockets: a submit in those few milliseconds would still hand off, and the
        # job would wait for its lease like any job of a worker that dies holding it.
        assert parked(cluster.database) == [worker_id]
        wait_until(
            lambda: not liveness_lock_held(cluster.database) or None,
            timeout=WAIT,
            what="the server to release the killed worker's lock",
            cluster=cluster,
        )
        answer = client.post(f"{API}/sleep", json={"ms": 10})
        assert answer.status_code == 202
        job_id = answer.json()["job_id"]
        job = client.get(f"{API}/jobs/{job_id}").json()
        assert (job["status"], job["attempt"]) == ("queued", 0)
        assert parked(cluster.database) == []  # the dead park was cleared

        cluster.start(apis=0, workers=1, concurrency=2)
        done = wait_until(
            completed(client, job_id),
            timeout=WAIT,
            what="the queued job to complete on the new worker",
            cluster=cluster,
        )
        assert done["attempt"] == 1
