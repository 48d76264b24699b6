"""PostgreSQL's sessions killed under load (`pg_terminate_backend` on every lro session,
three times), then the server itself restarted under load (`pg_ctl stop -m fast`, then
`start`): what a failover or a routine restart does to the processes.

The server is a private one of this scenario (tests/support/pgserver.py): the machine's
shared server is never restarted. Traffic keeps submitting to both APIs all along.

Verdict: while the server is gone every answer is a 503 with Retry-After (never a 500,
never a hang); nothing wedges: every process is still up, every API is ready again by
itself, every worker runs jobs again, a `Prefer: wait` submit is answered 200 on each
API (notifications flow again); every job accepted before, during and after is completed.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from tests.reliability.db import Db
from tests.reliability.harness import Rig, rig_on
from tests.reliability.scenarios import backends, na, reliability
from tests.reliability.traffic import Traffic
from tests.reliability.verdict import Verdict
from tests.support.pgserver import PrivatePostgres
from tests.support.procs import API

TERMINATE_ROUNDS = 3
OUTAGE_SECONDS = 3.0
"""At least this long down: more than the 2 s lease, so the running jobs' leases expire."""


def completed(rig: Rig) -> int:
    return rig.db.status_counts()["completed"]


def more_done(rig: Rig, n: int, what: str) -> None:
    """Wait until `n` more jobs have completed than now."""
    goal = completed(rig) + n
    rig.wait(lambda: completed(rig) >= goal, timeout=90, what=what)


def readyz(base: str) -> int:
    try:
        return httpx.get(f"{base}/readyz", timeout=10).status_code
    except httpx.TransportError:
        return 0


def terminate_lro_sessions(rig: Rig) -> int:
    killed: int = rig.db.scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name LIKE 'lro-%'"
    )
    return killed


@reliability
@pytest.mark.timeout(420)
@backends(sqlite=na("SQLite has no server: no sessions to kill, nothing to restart"))
def test_postgres_sessions_killed_then_server_restarted_under_load(
    backend: str, verdict: Verdict, tmp_path: Path, pg_server: PrivatePostgres
) -> None:
    url = pg_server.create_database("lro")
    with rig_on(backend, tmp_path, url + "?connect_timeout=2", Db(backend, pg_url=url)) as rig:
        apis = [rig.start_api(), rig.start_api()]
        workers = [rig.start_worker(concurrency=4), rig.start_worker(concurrency=4)]
        rig.wait_listening()
        bases = [a.base_url for a in apis]
        traffic = Traffic(bases, route="/load", body=lambda i: {"ms": 50}, submitters=6)
        with traffic:
            more_done(rig, 50, "50 jobs done")
            terminated = 0
            for _ in range(TERMINATE_ROUNDS):
                terminated += terminate_lro_sessions(rig)
                more_done(rig, 30, "work to resume")
            verdict["sessions_terminated"] = terminated

            seen_503 = traffic.seen(503)
            pg_server.stop("fast")
            down_at = time.monotonic()
            rig.wait(
                lambda: (
                    traffic.seen(503) >= seen_503 + 10
                    and all(readyz(b) == 503 for b in bases)
                    and time.monotonic() > down_at + OUTAGE_SECONDS
                ),
                timeout=60,
                what="503s while the server is down",
            )
            verdict["ready_503_while_down"] = 1
            pg_server.start()
            rig.wait(lambda: all(readyz(b) == 200 for b in bases), timeout=60, what="ready again")
            up_at = time.monotonic()
            more_done(rig, 50, "work after the restart")
        rig.wait_listening()
        with httpx.Client(timeout=30) as client:
            answers = [
                client.post(f"{b}{API}/work", json={"ms": 1}, headers={"Prefer": "wait=20"})
                for b in bases
            ]
            for i in range(40):  # enough for every worker's slots to take some
                resp = client.post(f"{bases[i % 2]}{API}/work", json={"ms": 200})
                assert resp.status_code == 202, resp.text
        rig.wait_drained(timeout=120)
        late_runs = [r for r in rig.runlog.runs() if r.start > up_at]
        counts = rig.db.status_counts()
        verdict.update(
            accepted=len(traffic.accepted),
            completed=counts["completed"],
            failed=counts["failed"],
            answers_202=traffic.statuses[202],
            answers_503=traffic.seen(503),
            other_5xx=traffic.errors_5xx,
            no_retry_after=traffic.no_retry_after,
            no_answer=traffic.seen(0),
            reruns=sum(n for a, n in rig.db.attempts().items() if a > 1),
            workers_working_after=sum(1 for w in workers if any(r.pid == w.pid for r in late_runs)),
            wait_answers_200=sum(1 for r in answers if r.status_code == 200),
        )
        rig.assert_alive()
    assert verdict["other_5xx"] == 0 and verdict["no_retry_after"] == 0, traffic.evidence
    assert verdict["no_answer"] == 0, verdict
    assert verdict["failed"] == 0, verdict
    assert verdict["completed"] == verdict["accepted"] + 2 + 40, verdict
    assert verdict["workers_working_after"] == len(workers), verdict
    assert verdict["wait_answers_200"] == len(bases), verdict
