"""SIGKILL a worker while its handlers run (a machine lost mid-job).

Verdict: nothing is lost and nothing runs twice at once. Every job completes; the jobs
the kill cut short are taken back when their lease runs out and run again on the other
worker as attempt 2 (a lost run counts as an attempt); the jobs that were still queued run
once, as attempt 1; every job has exactly one terminal event; no two runs of one job
overlap (the dead worker's runs end at its death).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.reliability.harness import Rig
from tests.reliability.runlog import overlaps
from tests.reliability.scenarios import backends
from tests.reliability.verdict import Verdict

JOBS = 8
CONCURRENCY = 4


@pytest.mark.smoke
@backends()
def test_worker_killed_mid_job(rig: Rig, verdict: Verdict, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    api = rig.start_api()
    victim = rig.start_worker(concurrency=CONCURRENCY)
    with api.client() as client:
        ids = [rig.submit(client, "/work", {"gate": str(gate)}) for _ in range(JOBS)]
        rig.wait(
            lambda: len(rig.runlog.open_in(victim.pid)) == CONCURRENCY,
            timeout=60,
            what=f"{victim.name} to hold {CONCURRENCY} jobs in their handlers",
        )
        rig.kill(victim)
        cut_short = rig.runlog.open_in(victim.pid)
        gate.touch()
        rig.start_worker(concurrency=CONCURRENCY)
        rig.wait_drained(timeout=120)
        jobs = {job_id: rig.job(client, job_id) for job_id in ids}

    runs = rig.runlog.by_job()
    terminal = rig.db.terminal_events()
    ran_twice = {j for j, r in runs.items() if len(r) == 2}
    verdict.update(
        accepted=len(ids),
        completed=sum(1 for j in jobs.values() if j["status"] == "completed"),
        cut_short=len(cut_short),
        runs=sum(len(r) for r in runs.values()),
        ran_twice=len(ran_twice),
        attempt_2=sum(1 for j in jobs.values() if j["attempt"] == 2),
        ended_twice=sum(1 for n in terminal.values() if n > 1),
        overlaps=len(overlaps(runs, rig.killed_at)),
        processing_left=rig.db.processing(),
    )
    assert verdict["completed"] == JOBS, verdict
    assert verdict["cut_short"] == CONCURRENCY, verdict
    assert ran_twice == cut_short, verdict
    assert all(jobs[j]["attempt"] == (2 if j in cut_short else 1) for j in ids), verdict
    assert verdict["runs"] == JOBS + CONCURRENCY, verdict
    assert set(terminal) == set(ids) and verdict["ended_twice"] == 0, verdict
    assert verdict["overlaps"] == 0 and verdict["processing_left"] == 0, verdict
