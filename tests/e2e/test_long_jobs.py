"""Long jobs survive a SIGKILLed worker (HTTP-CONTRACT §14), with real processes on one
store (a SQLite file, or a PostgreSQL database): `lro serve --no-worker` and two
`lro worker` processes of tests/e2e/long_app.

* Four steps, the worker killed after two: the file the handler writes shows steps 1-2
  ran once (attempt 1), the job completed on attempt 2 with every step's result.
* A 100-item loop with a checkpoint per item, killed at item 50: attempt 2 resumes at 50,
  every item is processed exactly once, and the partials (one per 10 items) are all
  there once each, in order.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.procs import (
    API,
    LroProcess,
    ProcessGroup,
    get_job,
    is_terminal,
    start_server,
    wait_for,
    wait_job,
)

HERE = Path(__file__).resolve().parent
APP = "long_app:lro"
ENV = {
    "PYTHONPATH": os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p),
    "LRO_RETRY_BASE_SECONDS": "0",
    "LRO_LEASE_SECONDS": "2",
}


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The processes' store: the group's SQLite file, or a fresh PostgreSQL database
    (asked for before `procs`, so it is dropped after the processes are gone)."""
    if request.param == "sqlite":
        yield {}
        return
    from tests.support.postgres import create_database, drop_database, url_for

    name = asyncio.run(create_database())
    try:
        yield {"LRO_STORE_URL": url_for(name)}
    finally:
        asyncio.run(drop_database(name))


def start(procs: ProcessGroup, store_env: dict[str, str]) -> tuple[str, LroProcess]:
    procs.env.update(ENV)
    procs.env.update(store_env)
    url = start_server(procs, worker=False, extra=[APP])
    victim = procs.start("worker-1", ["worker", APP, "--concurrency", "2"])
    return url, victim


def kill_and_replace(procs: ProcessGroup, victim: LroProcess) -> None:
    victim.signal(signal.SIGKILL)
    assert victim.wait_exit(30) == -signal.SIGKILL
    procs.start("worker-2", ["worker", APP, "--concurrency", "2"])


def submit(client: httpx.Client, operation: str, params: dict[str, object]) -> str:
    r = client.post(f"{API}/jobs", json={"operation": operation, "params": params})
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    return job_id


def test_completed_steps_are_not_run_again_after_a_sigkill(
    store_env: dict[str, str], procs: ProcessGroup, tmp_path: Path
) -> None:
    log, gate = tmp_path / "steps.log", tmp_path / "never"
    url, victim = start(procs, store_env)
    with httpx.Client(base_url=url, timeout=10) as client:
        job_id = submit(client, "long.import", {"log": str(log), "gate": str(gate)})
        wait_for(
            lambda: "waiting attempt 1" in lines(log),
            timeout=60,
            what="attempt 1 to finish two steps",
            diagnostics=procs.logs,
        )
        kill_and_replace(procs, victim)
        job = wait_job(client, job_id, is_terminal, what="the job to end", group=procs)
        assert job["status"] == "completed", job
        assert job["attempt"] == 2 and job["result"] == {"total": 100}, job
        steps = client.get(f"{API}/jobs/{job_id}/steps").json()["items"]
    assert lines(log) == [
        "step 1 attempt 1",
        "step 2 attempt 1",
        "waiting attempt 1",
        "step 3 attempt 2",
        "step 4 attempt 2",
    ]
    assert [(s["name"], s["status"], s["attempt"]) for s in steps] == [
        ("step 1", "completed", 1),
        ("step 2", "completed", 1),
        ("step 3", "completed", 2),
        ("step 4", "completed", 2),
    ]


def test_a_loop_resumes_from_its_checkpoint_after_a_sigkill(
    store_env: dict[str, str], procs: ProcessGroup, tmp_path: Path
) -> None:
    log, gate = tmp_path / "loop.log", tmp_path / "never"
    url, victim = start(procs, store_env)
    with httpx.Client(base_url=url, timeout=10) as client:
        job_id = submit(client, "long.loop", {"log": str(log), "gate": str(gate)})
        wait_for(
            lambda: "waiting attempt 1" in lines(log),
            timeout=60,
            what="attempt 1 to reach item 50",
            diagnostics=procs.logs,
        )
        kill_and_replace(procs, victim)
        job = wait_job(client, job_id, is_terminal, what="the job to end", group=procs)
        assert job["status"] == "completed" and job["attempt"] == 2, job
        partials = client.get(f"{API}/jobs/{job_id}/partials").json()["items"]
        assert get_job(client, job_id)["result"] == {"items": 100}
    seen = lines(log)
    assert seen[0] == "resume 0 attempt 1" and "resume 50 attempt 2" in seen
    items = [line for line in seen if line.startswith("item ")]
    assert items == [f"item {i} attempt {1 if i < 50 else 2}" for i in range(100)]
    assert [(p["seq"], p["data"]) for p in partials] == [
        (n + 1, {"through": 10 * n + 9}) for n in range(10)
    ]
