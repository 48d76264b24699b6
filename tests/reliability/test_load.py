"""Load through two API and three worker processes, with a worker SIGKILLed every three
seconds and restarted (and, for the baseline, without faults).

Verdict (load.py): every accepted job is terminal and completed; no job ran in two live
workers at the same moment (each run's start and end are in the run log, a killed
worker's unfinished run ends at its death); every rerun follows a kill; no stuck job and
no leaked lease (no `processing` row left); no 5xx. Without faults every job finishes in
its first attempt.

Sizes: the issue's 50,000 jobs on PostgreSQL (many processes on many machines is what it
is for); SQLite serialises every writer of the machine on one file lock, so it takes
10,000, enough for the same number of kills and reruns. RELIABILITY_LOAD_JOBS overrides.
"""

from __future__ import annotations

import os

import pytest
from tests.reliability.harness import Rig
from tests.reliability.load import run_load
from tests.reliability.scenarios import backends, reliability
from tests.reliability.verdict import Verdict

SIZES = {"sqlite": 10_000, "postgres": 50_000}


def size(backend: str) -> int:
    return int(os.environ.get("RELIABILITY_LOAD_JOBS", SIZES[backend]))


@reliability
@pytest.mark.timeout(1500)
@backends()
def test_load_with_a_worker_killed_every_3s(rig: Rig, verdict: Verdict) -> None:
    run_load(
        rig,
        verdict,
        jobs=size(rig.backend),
        apis=2,
        workers=3,
        concurrency=8,
        kill_every=3.0,
        lease=5.0,
    )


@backends()
def test_load_without_faults_runs_every_job_once(rig: Rig, verdict: Verdict) -> None:
    """The bounded baseline of the default run: 1,000 jobs, no kills."""
    run_load(
        rig, verdict, jobs=1_000, apis=2, workers=3, concurrency=8, kill_every=None, lease=10.0
    )
