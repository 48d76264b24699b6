"""A worker frozen (SIGSTOP) past its lease, thawed (SIGCONT) after another worker has
finished its job: the rescuer bug River shipped (riverqueue/river#1302) was a late writer
overwriting a job that had just completed.

The job's handler waits for a gate of its own attempt and reports progress all the while.
Attempt 1 is frozen in it; its lease runs out; worker-2 rescues the job and completes it
as attempt 2. Then attempt 1's gate opens and worker-1 is thawed: its pending progress
and its completion go out with a lease that is no longer current.

Verdict: the late writes change nothing. The job's status, result, version and event log
are what they were when attempt 2 completed it, and worker-1 reports the refusal.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.reliability.harness import Rig
from tests.reliability.scenarios import backends
from tests.reliability.verdict import Verdict

REFUSED = ("lease on attempt 1 lost", "lease lost before its completion was written")
"""What the thawed worker logs once the store refused its write (or its heartbeat)."""


@backends()
def test_thawed_worker_cannot_change_a_finished_job(
    rig: Rig, verdict: Verdict, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    api = rig.start_api()
    zombie = rig.start_worker(name="worker-1", concurrency=1)
    with api.client() as client:
        body = {"gate": str(gate), "per_attempt": True, "progress": True}
        job_id = rig.submit(client, "/work", body)
        rig.wait(lambda: rig.runlog.count("start", job_id) == 1, timeout=60, what="attempt 1")
        rig.wait_job(client, job_id, lambda j: j["progress_pct"] > 0, what="to report progress")
        rig.freeze(zombie)
        try:
            rig.start_worker(name="worker-2", concurrency=1)
            rig.wait(
                lambda: rig.runlog.count("start", job_id) == 2,
                timeout=90,
                what="attempt 2 to start on worker-2",
            )
            Path(f"{gate}.2").touch()
            done = rig.wait_job(
                client, job_id, lambda j: j["status"] == "completed", what="to complete"
            )
            before = (rig.db.job(job_id), rig.db.events(job_id))
            Path(f"{gate}.1").touch()
        finally:
            zombie.signal(signal.SIGCONT)
        rig.wait(
            lambda: any(line in zombie.log(tail=10_000) for line in REFUSED),
            timeout=60,
            what="the thawed worker to be refused",
        )
        after_resource = rig.job(client, job_id)
    after = (rig.db.job(job_id), rig.db.events(job_id))
    verdict.update(
        status=after[0]["status"],
        attempt=after[0]["attempt"],
        version_before=before[0]["version"],
        version_after=after[0]["version"],
        events_before=len(before[1]),
        events_after=len(after[1]),
        runs=rig.runlog.count("start", job_id),
        zombie_returned=rig.runlog.count("end", job_id) - 1,
    )
    assert after == before, verdict
    assert after_resource["result"] == done["result"], (after_resource, done)
    assert after_resource["result"]["attempt"] == 2, after_resource
    assert verdict["status"] == "completed" and verdict["attempt"] == 2, verdict
