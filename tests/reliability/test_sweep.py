"""The retention sweeper deletes a backlog of 20,000 expired jobs while clients poll.

The jobs are run by a worker whose sweeper is off, with a retention of two seconds, and
that worker is stopped; once every job has expired (by the database's clock), a worker
with a half-second sweep interval starts, while four clients poll expired jobs and jobs
that are still running (a worker holds eight in their handlers, heartbeating through
the sweep: on SQLite every batch takes the one write lock).

Verdict: every expired job is swept and leaves its tombstone; polls never fail: each
answers 410 (expired or swept) or 200 (running), never a 5xx, never another status; no
write waits out its lock (no "database is locked", no failed heartbeat, sweep or
claim); the running jobs are untouched and complete once their gate opens. The polls'
p99 latency is reported, not judged.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest
from tests.reliability.harness import Rig, percentile
from tests.reliability.scenarios import backends, reliability
from tests.reliability.traffic import Traffic
from tests.reliability.verdict import Verdict

EXPIRED = 20_000
RUNNING = 8
TROUBLE = ("database is locked", "heartbeat failed", "pass failed", "claim failed")


@reliability
@pytest.mark.timeout(900)
@backends()
def test_sweep_of_20000_expired_jobs_while_clients_poll(
    rig: Rig, verdict: Verdict, tmp_path: Path
) -> None:
    rig.group.env.update(LRO_RETENTION_SECONDS="2", LRO_SWEEP_INTERVAL_SECONDS="3600")
    api = rig.start_api()
    runner = rig.start_worker(concurrency=32)
    expired = rig.seed(EXPIRED)
    rig.wait_drained(timeout=600, what=f"{EXPIRED} jobs to run")
    runner.signal(signal.SIGTERM)
    runner.wait_exit(timeout=60)
    rig.ended.add(runner.pid)
    rig.wait(lambda: rig.db.not_expired() == 0, timeout=60, what="every job to expire")

    gate = tmp_path / "gate"
    sweeper_env = {"LRO_SWEEP_INTERVAL_SECONDS": "0.5", "LRO_RETENTION_SECONDS": "3600"}
    sweeper = rig.start_worker(name="sweeper", concurrency=RUNNING, env=sweeper_env)
    with api.client() as client:
        running = [rig.submit(client, "/work", {"gate": str(gate)}) for _ in range(RUNNING)]
    traffic = Traffic([api.base_url], submitters=0, pollers=4)
    traffic.poll_ids = [*random.Random(7).sample(expired, 2_000), *running]
    with traffic:
        rig.wait(
            lambda: rig.db.tombstones() >= EXPIRED,
            timeout=600,
            what=f"{EXPIRED} jobs swept",
            interval=0.5,
        )
    gate.touch()
    rig.wait_drained(timeout=60, what="the running jobs to complete")
    statuses = traffic.poll_statuses
    trouble = [line for needle in TROUBLE for line in rig.log_lines(needle)]
    verdict.update(
        expired=EXPIRED,
        swept=rig.db.tombstones(),
        left=sum(rig.db.status_counts().values()),
        polls=sum(statuses.values()),
        polls_410=statuses[410],
        polls_200=statuses[200],
        poll_errors=sum(n for s, n in statuses.items() if s not in (200, 410)),
        lock_timeouts=len(trouble),
        running_completed=rig.db.status_counts()["completed"],
        poll_p50_ms=round(percentile(traffic.poll_seconds, 50) * 1000, 1),
        poll_p99_ms=round(percentile(traffic.poll_seconds, 99) * 1000, 1),
        sweeper_alive=int(sweeper.alive()),
    )
    assert verdict["swept"] == EXPIRED and verdict["left"] == RUNNING, verdict
    assert verdict["poll_errors"] == 0, (verdict, traffic.evidence)
    assert verdict["lock_timeouts"] == 0, trouble[:5]
    assert verdict["running_completed"] == RUNNING, verdict
