"""Two API processes and three workers on one PostgreSQL database, 1,000 jobs submitted
across both APIs, one worker SIGKILLed mid-run.

What the counts prove: every job completes; each ran at least once; the only jobs that ran
twice are jobs the killed worker had started and not yet durably completed, each re-run
exactly once by a surviving worker as attempt 2; no surviving worker ever ran a job twice
or ran a job another survivor ran (no lease was stolen from a live worker).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import sys
import time

import httpx
import pytest
from tests.e2e_postgres.helpers import Cluster, list_all, submit_many, wait_until
from tests.support.procs import get_job

pytestmark = pytest.mark.postgres

JOBS = 1_000
CONCURRENCY = 4
KILL_AFTER = 300  # finished handlers, ~30%


@pytest.mark.timeout(240)
def test_thousand_jobs_two_apis_three_workers_one_killed(cluster: Cluster) -> None:
    began = time.monotonic()
    # A 3 s lease: survivors beat every second, so a busy shared CI machine would need to
    # stall a worker's event loop for 2 s before its leases could be taken from it.
    cluster.group.env["LRO_LEASE_SECONDS"] = "3"
    cluster.start(apis=2, workers=3, concurrency=CONCURRENCY)
    victim = cluster.workers[0]
    runlog = cluster.runlog
    # 5-20 ms per job keeps every worker holding several jobs at any moment; one job in
    # 25 takes 250 ms, so that the kill can be timed to cut a handler short for certain.
    bodies: list[tuple[str, dict[str, object]]] = [
        ("/sleep", {"ms": 250 if i % 25 == 12 else 5 + (i * 7) % 16}) for i in range(JOBS)
    ]
    bases = [api.base_url for api in cluster.apis]

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        submitting = pool.submit(asyncio.run, submit_many(bases, bodies, in_flight=16))

        def victim_busy_at_30_percent() -> bool:
            if submitting.done():
                submitting.result()  # a failed submit fails the test now, with its message
            # A handler with 100 ms still to run: the SIGKILL lands well before it returns.
            return runlog.count("end") >= KILL_AFTER and bool(
                runlog.open_runs(victim.pid, busy_for=0.1)
            )

        wait_until(
            victim_busy_at_30_percent,
            timeout=90,
            what=f"{KILL_AFTER} jobs finished and {victim.name} in the middle of a long one",
            cluster=cluster,
            interval=0.005,
        )
        cluster.kill(victim)
        killed_at = time.monotonic()
        job_ids = submitting.result(timeout=120)

    assert len(set(job_ids)) == JOBS
    # The log is final for the dead worker: these handlers started and never returned.
    cut_short = runlog.open_runs(victim.pid)
    assert cut_short, "the victim was killed with no job in its handler"
    assert len(cut_short) <= CONCURRENCY

    with (
        httpx.Client(base_url=bases[0], timeout=30) as api1,
        httpx.Client(base_url=bases[1], timeout=30) as api2,
    ):
        polls = [api1, api2]

        def all_completed() -> bool:
            polls.reverse()
            return len(list_all(polls[0], status="completed")) >= JOBS

        wait_until(
            all_completed,
            timeout=120,
            what=f"all {JOBS} jobs completed (seen via both APIs)",
            cluster=cluster,
            interval=0.5,
        )
        done_at = time.monotonic()
        listed = {str(job["job_id"]): job for job in list_all(api1)}
        assert set(listed) == set(job_ids)
        assert {str(j["job_id"]) for j in list_all(api2)} == set(job_ids)
        not_completed = [j for j in listed.values() if j["status"] != "completed"]
        assert not not_completed, not_completed[:5]
        rerun = {job_id for job_id, runs in runlog.by_job("start").items() if len(runs) > 1}
        for job_id in rerun:
            job = get_job(api2, job_id)
            assert (job["status"], job["attempt"]) == ("completed", 2), job

    starts = runlog.by_job("start")
    ends = runlog.by_job("end")
    executions = sum(len(runs) for runs in starts.values())
    never_ran = set(job_ids) - set(starts)
    never_ended = set(job_ids) - set(ends)
    assert not never_ran, sorted(never_ran)[:10]
    assert not never_ended, sorted(never_ended)[:10]
    assert set(starts) == set(job_ids), "the run log names a job nobody submitted"

    ran_twice = {job_id for job_id, runs in starts.items() if len(runs) > 1}
    started_by_victim = {job_id for job_id, runs in starts.items() if runs[0].pid == victim.pid}
    # Duplicates only from the killed worker's in-flight jobs.
    assert ran_twice <= started_by_victim, ran_twice - started_by_victim
    # Every handler the kill cut short was run again (else it could not be completed).
    assert cut_short <= ran_twice, cut_short - ran_twice
    # The rest of the duplicates returned from their handler but died with their completion
    # still in the victim's write buffer (group commit): at most a batch or two.
    assert len(ran_twice - cut_short) <= CONCURRENCY, sorted(ran_twice - cut_short)
    assert executions == JOBS + len(ran_twice)

    survivors = {w.pid for w in cluster.workers} - {victim.pid}
    for job_id in ran_twice:
        first, second = starts[job_id]
        assert (first.pid, first.attempt) == (victim.pid, 1), starts[job_id]
        assert second.pid in survivors and second.attempt == 2, starts[job_id]
        assert listed[job_id]["attempt"] == 2, listed[job_id]
    # The API's attempt is the attempt of the run that completed the job.
    wrong_attempt = [
        (job_id, job["attempt"], starts[job_id])
        for job_id, job in listed.items()
        if job["attempt"] != starts[job_id][-1].attempt
    ]
    assert not wrong_attempt, wrong_attempt[:5]
    # A survivor's own jobs ran exactly once, as attempt 1.
    by_survivors = collections.Counter(
        r.job_id for runs in starts.values() for r in runs if r.pid in survivors
    )
    assert max(by_survivors.values()) == 1
    assert {r.pid for runs in starts.values() for r in runs} <= {victim.pid, *survivors}

    sys.stderr.write(
        f"[e2e-postgres] {JOBS} jobs, {executions} executions, {len(ran_twice)} re-run "
        f"({len(cut_short)} cut short in the handler); killed after "
        f"{killed_at - began:.1f}s, all completed after {done_at - began:.1f}s\n"
    )
