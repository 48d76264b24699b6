"""Results on PostgreSQL with real processes (issue 11, items 6 and 7): API processes that
share no disk with the worker serve every result (the default result store is `db`), and
a frozen-then-thawed worker cannot corrupt a result (tests/support/zombie.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest
from tests.e2e_postgres.helpers import Cluster, wait_until
from tests.support.postgres import url_for
from tests.support.procs import (
    API,
    LroProcess,
    free_port,
    get_job,
    is_terminal,
    wait_healthy,
    wait_job,
)
from tests.support.zombie import AS_REPORTED, QUICK, Scenario, expected_lines, zombie_takeover

pytestmark = pytest.mark.postgres


def query(database: str, sql: str, *args: object) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url_for(database), timeout=5)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


def blob_keys(database: str, job_id: str) -> set[str]:
    rows = query(
        database,
        "SELECT key FROM lro_result_chunks WHERE job_id = $1"
        " UNION SELECT key FROM lro_result_blobs WHERE job_id = $1",
        job_id,
    )
    return {r[0] for r in rows}


def start(cluster: Cluster, name: str, args: list[str], result_dir: Path) -> LroProcess:
    """A process of the bundled demo app with a result directory of its own."""
    return cluster.group.start(name, args, env={"LRO_RESULT_DIR": str(result_dir)})


def test_api_processes_without_the_workers_disk_serve_results_with_ranges(
    cluster: Cluster,
) -> None:
    work = cluster.workdir
    apis: list[str] = []
    for i in (1, 2):
        port = free_port()
        proc = start(
            cluster,
            f"api-{i}",
            ["serve", "--no-worker", "--no-access-log", "--port", str(port)],
            work / f"api-{i}-results",
        )
        wait_healthy(proc, f"http://127.0.0.1:{port}", timeout=60)
        apis.append(f"http://127.0.0.1:{port}")
    start(cluster, "worker", ["worker"], work / "worker-results")

    rows = 20_000  # about 1 MB: three chunks of the db store
    expected = ("\n".join(expected_lines(rows)) + "\n").encode()
    with (
        httpx.Client(base_url=apis[0], timeout=30) as one,
        httpx.Client(base_url=apis[1], timeout=30) as two,
    ):
        resp = one.post(f"{API}/reports", json={"rows": rows, "delay_seconds": 0.2})
        assert resp.status_code == 202, resp.text
        job_id = str(resp.json()["job_id"])
        job = wait_job(two, job_id, is_terminal, what="to finish", group=cluster.group)
        assert job["status"] == "completed", job
        url = str(job["result_url"])

        for client in (one, two):
            r = client.get(url)
            assert r.status_code == 200, r.text
            assert r.content == expected
            assert r.headers["content-type"].startswith("text/csv")
            r = client.get(url, headers={"Range": "bytes=1000-1999"})
            assert r.status_code == 206, r.text
            assert r.content == expected[1000:2000]
            assert r.headers["content-range"] == f"bytes 1000-1999/{len(expected)}"
            # Across the boundary of the first two 512 KiB chunks, to the end.
            r = client.get(url, headers={"Range": "bytes=524000-"})
            assert (r.status_code, r.content) == (206, expected[524000:])
        etags = {c.get(url).headers["etag"] for c in (one, two)}
        assert len(etags) == 1  # one validator, whichever process answers

        # A signed link made by one API process opens on the other.
        link = get_job(one, job_id)["result_link"]
        assert isinstance(link, str)
        r = two.get(link, headers={"Range": "bytes=0-9"})
        assert (r.status_code, r.content) == (206, expected[:10])

        # Neither API process ever had the file; the worker's staging is gone too.
        for i in (1, 2):
            folder = work / f"api-{i}-results"
            assert not folder.exists() or not any(folder.iterdir())
        wait_until(
            lambda: not (work / "worker-results" / job_id).exists(),
            timeout=30,
            what="the worker's staging of the job to be removed",
            cluster=cluster,
        )
        assert len(blob_keys(cluster.database, job_id)) == 1

        assert two.delete(f"{API}/jobs/{job_id}").status_code == 204
        assert blob_keys(cluster.database, job_id) == set()
        assert one.get(url).status_code == 404


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(QUICK, id="quick"),
        pytest.param(AS_REPORTED, id="as-reported", marks=pytest.mark.slow),
    ],
)
def test_a_thawed_zombie_cannot_corrupt_the_result(cluster: Cluster, scenario: Scenario) -> None:
    results = cluster.workdir / "results"

    def only_the_winner_left(job_id: str) -> bool:
        [ref] = query(
            cluster.database, "SELECT result_ref->>'key' FROM lro_jobs WHERE id = $1", job_id
        )
        return blob_keys(cluster.database, job_id) == {ref[0]} and not (results / job_id).exists()

    zombie_takeover(
        cluster.group, scenario, results_dir=results, check_leftovers=only_the_winner_left
    )
