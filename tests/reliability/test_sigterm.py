"""SIGTERM a worker in the middle of its work (a deploy): it stops claiming, lets running
jobs finish within the grace, and hands the rest back to the queue.

Two of its four jobs end well within the 5 s grace; two wait for a gate that stays shut.

Verdict: the worker exits 0 within the grace (plus a margin for the hand-back); at that
moment no job is left `processing` (nothing is left for the rescuer); the two short jobs
completed there, on attempt 1; the two long ones are back in the queue with their
attempt given back (the interrupted run does not count), and once the gate opens another
worker completes them, still as attempt 1.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.reliability.harness import Rig
from tests.reliability.scenarios import backends
from tests.reliability.verdict import Verdict

GRACE = 5.0


@backends()
def test_sigterm_finishes_or_hands_back_honestly(
    rig: Rig, verdict: Verdict, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    api = rig.start_api()
    first = rig.start_worker(name="worker-1", concurrency=4, extra=["--grace", str(GRACE)])
    with api.client() as client:
        short = [rig.submit(client, "/work", {"ms": 1000}) for _ in range(2)]
        long = [rig.submit(client, "/work", {"gate": str(gate)}) for _ in range(2)]
        rig.wait(lambda: len(rig.runlog.open_in(first.pid)) == 4, timeout=60, what="4 jobs running")
        first.signal(signal.SIGTERM)
        exit_code = first.wait_exit(timeout=GRACE + 30)
        rig.ended.add(first.pid)
        at_exit = {j: rig.job(client, j) for j in short + long}
        processing_at_exit = rig.db.processing()
        gate.touch()
        rig.start_worker(name="worker-2", concurrency=4)
        rig.wait_drained(timeout=120)
        final = {j: rig.job(client, j) for j in short + long}
    verdict.update(
        exit_code=exit_code,
        processing_at_exit=processing_at_exit,
        finished_in_grace=sum(1 for j in short if at_exit[j]["status"] == "completed"),
        handed_back=sum(1 for j in long if at_exit[j]["status"] == "queued"),
        handed_back_attempt=max(at_exit[j]["attempt"] for j in long),
        completed=sum(1 for j in final.values() if j["status"] == "completed"),
        max_attempt=max(j["attempt"] for j in final.values()),
        runs=len(rig.runlog.runs()),
    )
    assert exit_code == 0, first.log()
    assert verdict["processing_at_exit"] == 0, verdict
    assert verdict["finished_in_grace"] == 2 and verdict["handed_back"] == 2, verdict
    assert verdict["handed_back_attempt"] == 0, verdict
    assert verdict["completed"] == 4 and verdict["max_attempt"] == 1, verdict
    assert verdict["runs"] == 6, verdict
