"""Issue 11, item 7, on SQLite (result store `file`): a worker frozen mid-job and thawed
after another worker took the job over cannot corrupt the result (tests/support/zombie.py
tells the scenario)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.procs import ProcessGroup
from tests.support.zombie import AS_REPORTED, QUICK, Scenario, zombie_takeover


def only_the_winner_left(results: Path) -> Callable[[str], bool]:
    """The job's result directory holds one attempt's folder (the result), no staging."""

    def check(job_id: str) -> bool:
        entries = sorted(p.name for p in (results / job_id).iterdir())
        return len(entries) == 1 and not entries[0].endswith(".staging")

    return check


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(QUICK, id="quick"),
        pytest.param(AS_REPORTED, id="as-reported", marks=pytest.mark.slow),
    ],
)
def test_a_thawed_zombie_cannot_corrupt_the_result(procs: ProcessGroup, scenario: Scenario) -> None:
    zombie_takeover(
        procs,
        scenario,
        results_dir=procs.workdir / "results",
        sqlite_db=procs.workdir / "lro.db",
        check_leftovers=only_the_winner_left(procs.workdir / "results"),
    )
