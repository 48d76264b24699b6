"""SIGKILL a worker in the commit window: its handler has returned, the completion is not
yet durable.

The handler writes `end` to the run log just before it returns, so the test knows the
window is open. Then the completion write is held up where it really can be:
- SQLite: the test holds the file's write lock (`BEGIN IMMEDIATE`), so the worker's
  completion waits for it, until its busy timeout says so in the worker's log;
- PostgreSQL: the worker reaches the server through a TCP proxy that stalls the one write
  carrying the job's result (its marker is in the bytes), in the network.
Then the worker is SIGKILLed, the hold is let go (the stalled write is dropped with its
connection, or, in the second scenario, delivered after the sender died), and another
worker starts.

Verdict: the job ends `completed` exactly once (one terminal event), with the result and
attempt of the run that completed it; a result the store never recorded is not lost, the
job runs again (attempt 2); a completion that did commit after its worker died is left
alone by the rescuer (attempt 1, one run).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.reliability.harness import Api, Rig, is_terminal, sqlite_write_lock
from tests.reliability.scenarios import backends, na
from tests.reliability.verdict import Verdict
from tests.support.procs import LroProcess
from tests.support.tcpproxy import TcpProxy

BLOCKED = "completion write failed, will retry"
"""What the worker logs once its completion gave up waiting for the write lock."""


def start_job(rig: Rig, api: Api, gate: Path) -> str:
    with api.client() as client:
        job_id = rig.submit(client, "/work", {"gate": str(gate)})
    rig.wait(lambda: rig.runlog.count("start", job_id) == 1, timeout=60, what="the job to start")
    return job_id


def finish(rig: Rig, api: Api, job_id: str, verdict: Verdict) -> dict[str, Any]:
    """Start the second worker, wait for the job to end, and count."""
    rig.start_worker(name="worker-2", concurrency=1)
    with api.client() as client:
        job = rig.wait_job(client, job_id, is_terminal, what="to end", timeout=120)
    row = rig.db.job(job_id)
    result = json.loads(row["result"]) if row["result"] else {}
    verdict.update(
        status=job["status"],
        attempt=job["attempt"],
        runs=rig.runlog.count("start", job_id),
        returned=rig.runlog.count("end", job_id),
        terminal_events=rig.db.terminal_events().get(job_id, 0),
        result_attempt=result.get("attempt"),
        processing_left=rig.db.processing(),
    )
    assert job["status"] == "completed", verdict
    assert verdict["terminal_events"] == 1, verdict
    assert verdict["result_attempt"] == job["attempt"] == verdict["runs"], verdict
    assert verdict["processing_left"] == 0, verdict
    return job


def hold_completion_sqlite(rig: Rig, first: LroProcess, gate: Path, job_id: str) -> None:
    with sqlite_write_lock(rig.sqlite_path):
        gate.touch()
        rig.wait(lambda: rig.runlog.count("end", job_id) == 1, timeout=60, what="the return")
        rig.wait(
            lambda: BLOCKED in first.log(tail=10_000),
            timeout=60,
            what=f"{first.name}'s completion to wait on the write lock",
        )
        rig.kill(first)


@backends()
def test_worker_killed_in_commit_window(rig: Rig, verdict: Verdict, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    api = rig.start_api()
    if rig.backend == "sqlite":
        first = rig.start_worker(name="worker-1", concurrency=1)
        job_id = start_job(rig, api, gate)
        hold_completion_sqlite(rig, first, gate, job_id)
    else:
        with rig.proxy() as proxy:
            first = rig.start_worker(name="worker-1", concurrency=1, store_url=rig.via(proxy))
            job_id = start_job(rig, api, gate)
            stall_completion(rig, proxy, gate, job_id)
            rig.kill(first)
            proxy.release(deliver=False)
    job = finish(rig, api, job_id, verdict)
    assert job["attempt"] == 2, verdict  # the write never landed: the job ran again


@backends(sqlite=na("SQLite writes in-process: nothing of a dead worker is left in flight"))
def test_worker_killed_with_its_completion_in_flight(
    rig: Rig, verdict: Verdict, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    api = rig.start_api()
    with rig.proxy() as proxy:
        first = rig.start_worker(name="worker-1", concurrency=1, store_url=rig.via(proxy))
        job_id = start_job(rig, api, gate)
        stall_completion(rig, proxy, gate, job_id)
        rig.kill(first)
        proxy.release(deliver=True)  # the bytes arrive after their sender died
        job = finish(rig, api, job_id, verdict)
    verdict["committed_after_death"] = int(job["attempt"] == 1)


def stall_completion(rig: Rig, proxy: TcpProxy, gate: Path, job_id: str) -> None:
    proxy.stall(f"result-of-{job_id}".encode())
    gate.touch()
    rig.wait(lambda: rig.runlog.count("end", job_id) == 1, timeout=60, what="the return")
    rig.wait(lambda: proxy.stalled == 1, timeout=60, what="the completion write to stall")
