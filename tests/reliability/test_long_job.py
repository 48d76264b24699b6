"""Healthy jobs that run ten times longer than the lease: the jobs Oban re-ran every night
past `rescue_after`. One is async (it sleeps), one is sync and keeps a CPU busy in its
thread (holding the GIL most of the time) while it reports progress; two workers run,
so two rescuers look at their leases all along.

A 3 s lease: the heartbeat beats every second, so only a process starved of CPU for two
seconds could lose one; the jobs run 30 s.

Verdict: the heartbeat keeps both leases alive. Each job completes on its first attempt,
with one run, and no rescuer ever takes either back.
"""

from __future__ import annotations

import pytest
from tests.reliability.harness import Rig, is_terminal
from tests.reliability.scenarios import backends, reliability
from tests.reliability.verdict import Verdict

LEASE = 3.0
LENGTH = 10 * LEASE

RESCUED = "lost its worker"
"""What a rescuer logs for every job it takes back."""


@reliability
@pytest.mark.timeout(300)
@backends()
def test_job_ten_leases_long_is_never_rescued(rig: Rig, verdict: Verdict) -> None:
    rig.group.env["LRO_LEASE_SECONDS"] = str(LEASE)
    api = rig.start_api()
    rig.start_worker(concurrency=2)
    rig.start_worker(concurrency=2)
    with api.client() as client:
        jobs = [
            rig.submit(client, "/work", {"ms": LENGTH * 1000}),
            rig.submit(client, "/spin", {"seconds": LENGTH}),
        ]
        done = [
            rig.wait_job(client, j, is_terminal, what="to end", timeout=LENGTH + 120) for j in jobs
        ]
    rescues = [line for j in jobs for line in rig.log_lines(RESCUED, j)]
    verdict.update(
        lease_s=LEASE,
        job_s=LENGTH,
        completed=sum(1 for j in done if j["status"] == "completed"),
        max_attempt=max(j["attempt"] for j in done),
        runs=sum(rig.runlog.count("start", j) for j in jobs),
        rescued=len(rescues),
    )
    assert verdict["completed"] == 2 and verdict["max_attempt"] == 1, verdict
    assert verdict["runs"] == 2 and verdict["rescued"] == 0, verdict
