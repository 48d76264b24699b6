"""The database goes away mid-load and comes back: nothing is lost and nothing crashes.

Every process reaches PostgreSQL through a TCP proxy; switching the proxy off drops every
connection and refuses new ones, as a server restart (or a network partition) would,
without touching the real server. Meanwhile the processes stay up, `/healthz` stays 200,
`/readyz` and submits answer 503 problems with Retry-After (not 500s, not hangs). Once the
proxy is back: ready again, every job submitted before the outage completes, workers claim
again and notifications flow again.
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import pytest
from tests.e2e_postgres.helpers import (
    Cluster,
    assert_problem,
    list_all,
    submit_many,
    wait_until,
)
from tests.support.procs import API, LroProcess
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.postgres

JOBS = 120
OUTAGE_SECONDS = 3.0
"""Longer than the 2 s lease: the leases of jobs running at the cut expire meanwhile."""


@pytest.mark.timeout(180)
def test_database_outage_mid_load(pg_proxy: TcpProxy, cluster: Cluster) -> None:
    # pg_proxy comes first so that it is torn down last, after the processes stopped.
    cluster.start(
        apis=2,
        workers=2,
        concurrency=4,
        store_url=cluster.store_url(pg_proxy.port, connect_timeout="2"),
    )
    bases = [api.base_url for api in cluster.apis]
    clients = [httpx.Client(base_url=b, timeout=20) for b in bases]
    try:
        # Load: 120 jobs of 200 ms on 8 slots take about 3 s; cut the database early on.
        before = asyncio.run(submit_many(bases, [("/sleep", {"ms": 200})] * JOBS))
        wait_until(
            lambda: cluster.runlog.count("end") >= 16,
            timeout=30,
            what="jobs to be finishing",
            cluster=cluster,
        )
        pg_proxy.off()
        off_at = time.monotonic()
        finished_before_cut = cluster.runlog.count("end")
        assert finished_before_cut < JOBS, "all jobs finished before the outage: no load to cut"

        # Not ready (a 503 problem with Retry-After) on both APIs, yet alive.
        for client in clients:

            def unready(client: httpx.Client = client) -> httpx.Response | None:
                resp = client.get("/readyz")
                return resp if resp.status_code == 503 else None

            resp = wait_until(
                unready, timeout=20, what=f"{client.base_url}/readyz to say 503", cluster=cluster
            )
            assert_problem(resp, 503)
            assert int(resp.headers["Retry-After"]) >= 1
            assert client.get("/healthz").status_code == 200

        # A submit is refused at once with a 503 problem (the client's timeout bounds it).
        for client in clients:
            resp = client.post(f"{API}/sleep", json={"ms": 1})
            assert_problem(resp, 503)
            assert int(resp.headers["Retry-After"]) >= 1

        # The workers notice (their claims fail) and keep running.
        for worker in cluster.workers:

            def claim_failed(worker: LroProcess = worker) -> bool:
                return "claim failed" in worker.log(tail=10_000)

            wait_until(
                claim_failed,
                timeout=20,
                what=f"{worker.name} to log a failed claim",
                cluster=cluster,
            )
        time.sleep(max(0.0, off_at + OUTAGE_SECONDS - time.monotonic()))  # the outage
        cluster.assert_alive()

        pg_proxy.on()
        for client in clients:

            def ready(client: httpx.Client = client) -> bool:
                return client.get("/readyz").status_code == 200

            wait_until(
                ready,
                timeout=30,
                what=f"{client.base_url}/readyz to say 200 again",
                cluster=cluster,
            )

        # Nothing submitted before the outage is lost: every job completes.
        def all_completed() -> bool:
            done = {str(j["job_id"]) for j in list_all(clients[0], status="completed")}
            return done >= set(before)

        wait_until(
            all_completed,
            timeout=60,
            what=f"all {JOBS} jobs submitted before the outage to complete",
            cluster=cluster,
            interval=0.25,
        )
        ends = cluster.runlog.by_job("end")
        assert all(job_id in ends for job_id in before)
        executions = sum(len(runs) for runs in cluster.runlog.by_job("start").values())
        sys.stderr.write(
            f"[e2e-postgres] outage: {JOBS - finished_before_cut} of {JOBS} jobs unfinished "
            f"at the cut, {executions} executions\n"
        )

        # Work and notifications resume: once every process has its LISTEN connection
        # back, a worker's completion answers a `Prefer: wait` on either API.
        cluster.wait_listening()
        for client in clients:
            resp = client.post(f"{API}/sleep", json={"ms": 1}, headers={"Prefer": "wait=10"})
            assert resp.status_code == 200, resp.text
            assert resp.json()["status"] == "completed", resp.json()

        cluster.assert_alive()
        for api in cluster.apis:
            assert "unhandled error" not in api.proc.log(tail=100_000), api.proc.log()
    finally:
        for client in clients:
            client.close()
