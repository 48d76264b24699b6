"""A worker whose wall clock is five minutes off, beside a worker with the right time.

The wrong clock is the worker's own (skew/sitecustomize.py shifts `time.time` and
`datetime.now` in that process alone). Leases and their expiry must be judged by one
clock, the database's, so:
- a fast worker (+5 min) must not see everyone else's leases as expired and take their
  jobs back while they run;
- a slow worker (-5 min) must not hand out leases that everyone else sees as expired the
  moment they are written, so that its running jobs are taken from it.

(A slow worker also judges which jobs are due by its clock: it sees a job submitted now
as due in five minutes, and claims nothing.)

Each scenario lets the skewed worker's rescuer and the right worker's rescuer run for
several passes (until a job of the other worker has completed) while gated jobs hold
the slots, then opens the gate.

Verdict: the holder claims the due jobs at once; every gated job ran once, as attempt 1,
and none was taken back.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.reliability.harness import HERE, Rig, is_terminal
from tests.reliability.runlog import overlaps
from tests.reliability.scenarios import backends, na, reliability
from tests.reliability.verdict import Verdict

SKEW = 300.0
SLOTS = 4
ONE_CLOCK = na("SQLite is one machine: its processes share one clock")


def skewed_env(rig: Rig, seconds: float) -> dict[str, str]:
    path = os.pathsep.join([str(HERE / "skew"), rig.group.env["PYTHONPATH"]])
    return {"PYTHONPATH": path, "LRO_TEST_CLOCK_SKEW_SECONDS": str(seconds)}


def run_scenario(rig: Rig, verdict: Verdict, gate: Path, *, skew: float) -> None:
    """The gated jobs go to the first worker; the second worker proves its loops run by
    completing a job of its own (3 s, several rescuer passes) before the gate opens."""
    api = rig.start_api()
    skewed = skewed_env(rig, skew)
    # Fast: the right worker holds the jobs and the skewed one looks at their leases.
    # Slow: the skewed worker holds them (its leases) and the right one looks.
    holder = rig.start_worker(name="holder", concurrency=SLOTS, env=skewed if skew < 0 else None)
    with api.client() as client:
        gated = [rig.submit(client, "/work", {"gate": str(gate)}) for _ in range(SLOTS)]
        verdict.update(skew_s=skew, skewed_worker="other" if skew > 0 else "holder")
        try:
            rig.wait(
                lambda: len(rig.runlog.open_in(holder.pid)) == SLOTS,
                timeout=20,  # a claim takes milliseconds
                what=f"{holder.name} to claim the due jobs",
            )
        finally:
            verdict["claimed_by_holder"] = len(rig.runlog.open_in(holder.pid))
        other = rig.start_worker(name="other", concurrency=1, env=skewed if skew > 0 else None)
        rig.wait_listening()
        probe = rig.submit(client, "/work", {"ms": 3000})
        rig.wait_job(client, probe, is_terminal, what="to end on the other worker")
        gate.touch()
        done = [rig.wait_job(client, j, is_terminal, what="to end", timeout=120) for j in gated]
    runs = rig.runlog.by_job()
    verdict.update(
        probe_ran_on_other=int(any(r.pid == other.pid for r in runs[probe])),
        gated=len(gated),
        completed=sum(1 for j in done if j["status"] == "completed"),
        runs=sum(len(runs[j]) for j in gated),
        taken_back=len(rig.log_lines("lost its worker")),
        max_attempt=max(j["attempt"] for j in done),
        overlaps=len(overlaps({j: runs[j] for j in gated}, rig.killed_at)),
    )
    assert verdict["probe_ran_on_other"] == 1, verdict
    assert verdict["taken_back"] == 0 and verdict["runs"] == SLOTS, verdict
    assert verdict["max_attempt"] == 1 and verdict["overlaps"] == 0, verdict
    assert verdict["completed"] == SLOTS, verdict


@reliability
@pytest.mark.timeout(240)
@backends(
    sqlite=ONE_CLOCK,
)
def test_fast_clock_worker_leaves_others_leases_alone(
    rig: Rig, verdict: Verdict, tmp_path: Path
) -> None:
    run_scenario(rig, verdict, tmp_path / "gate", skew=SKEW)


@reliability
@pytest.mark.timeout(240)
@backends(
    sqlite=ONE_CLOCK,
)
def test_slow_clock_worker_claims_and_keeps_its_leases(
    rig: Rig, verdict: Verdict, tmp_path: Path
) -> None:
    run_scenario(rig, verdict, tmp_path / "gate", skew=-SKEW)
