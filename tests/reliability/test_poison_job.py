"""A job that kills its worker (SIGKILL of its own process) on every attempt: the job
Celery re-ran in a loop past its visibility timeout.

A supervisor restarts the worker whenever it dies, as systemd or Kubernetes would, so
there is always a worker to take the job back and run it again.

Verdict: the job ends `failed` with code `worker_lost` after exactly `max_attempts` (3)
runs, three worker deaths, and not one run more: no loop.
"""

from __future__ import annotations

import time

from tests.reliability.harness import Rig, is_terminal
from tests.reliability.scenarios import backends
from tests.reliability.verdict import Verdict
from tests.support.procs import LroProcess

MAX_ATTEMPTS = 3


@backends()
def test_job_that_kills_its_worker_every_time(rig: Rig, verdict: Verdict) -> None:
    api = rig.start_api()
    current: list[LroProcess] = [rig.start_worker(concurrency=1)]
    deaths = 0
    with api.client() as client:
        job_id = rig.submit(client, "/suicide", {})

        def ended_while_supervised() -> dict[str, object] | None:
            nonlocal deaths
            worker = current[0]
            if not worker.alive():
                deaths += 1
                rig.killed_at[worker.pid] = time.monotonic()  # it died on purpose
                rig.ended.add(worker.pid)
                current[0] = rig.start_worker(concurrency=1)
            rig.assert_alive()  # the API, and every worker but the ones that died here
            job = rig.job(client, job_id)
            return job if is_terminal(job) else None

        job = rig.wait(
            ended_while_supervised,
            timeout=120,
            what="the poison job to be given up",
            interval=0.2,
            alive=False,
        )
    error = job["error"]
    assert isinstance(error, dict), job
    verdict.update(
        status=job["status"],
        code=error.get("code"),
        error_attempts=error.get("attempts"),
        attempt=job["attempt"],
        runs=rig.runlog.count("start", job_id),
        worker_deaths=deaths,
        terminal_events=rig.db.terminal_events().get(job_id, 0),
    )
    assert (verdict["status"], verdict["code"]) == ("failed", "worker_lost"), verdict
    assert verdict["runs"] == verdict["attempt"] == MAX_ATTEMPTS == verdict["error_attempts"]
    assert verdict["worker_deaths"] == MAX_ATTEMPTS, verdict
    assert verdict["terminal_events"] == 1, verdict
    assert current[0].alive(), current[0].log()  # the last worker lives on, idle
