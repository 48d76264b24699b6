"""End-to-end: the real `lro` command in separate processes, real HTTP, a real SQLite file.

These prove what unit and contract tests cannot: that the CLI wires the API and the worker
together through the store across process boundaries, that a killed worker's job is taken
back and finished, that SIGTERM drains a busy worker without losing anything, and that
concurrent duplicate submits make exactly one job. Every wait is a bounded poll.
"""

from __future__ import annotations

import asyncio
import re
import signal

import httpx
import pytest
from tests.support.procs import (
    API,
    ProcessGroup,
    get_job,
    is_terminal,
    start_server,
    wait_job,
)

from lro.demo import HEADER, report_row


def submit_report(client: httpx.Client, **params: object) -> str:
    resp = client.post(f"{API}/reports", json=params)
    assert resp.status_code == 202, resp.text
    job_id = str(resp.json()["job_id"])
    assert resp.headers["Location"] == f"{API}/jobs/{job_id}"
    assert int(resp.headers["Retry-After"]) >= 1
    return job_id


def running_with_progress(job: dict[str, object]) -> bool:
    progress = job["progress_pct"]
    assert isinstance(progress, int | float)
    return job["status"] == "processing" and progress > 0


def check_csv(client: httpx.Client, job: dict[str, object], rows: int) -> None:
    resp = client.get(str(job["result_url"]))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    lines = resp.text.splitlines()
    assert len(lines) == rows + 1
    assert lines[0] == ",".join(HEADER)
    assert lines[1] == ",".join(report_row(1))
    assert lines[-1] == ",".join(report_row(rows))


@pytest.mark.smoke
def test_api_and_worker_as_separate_processes(procs: ProcessGroup) -> None:
    base_url = start_server(procs, worker=False)
    procs.start("worker", ["worker", "--concurrency", "2"])
    with httpx.Client(base_url=base_url, timeout=10) as client:
        job_id = submit_report(client, rows=250, delay_seconds=0.5)
        job = wait_job(client, job_id, is_terminal, what="to finish", group=procs)
        assert job["status"] == "completed", job
        assert job["progress_pct"] == 100
        assert job["attempt"] == 1
        check_csv(client, job, rows=250)


@pytest.mark.smoke
def test_killed_worker_job_is_rescued_and_completed(procs: ProcessGroup) -> None:
    base_url = start_server(procs, worker=False)
    first = procs.start("worker-1", ["worker"])
    with httpx.Client(base_url=base_url, timeout=10) as client:
        job_id = submit_report(client, rows=100, delay_seconds=3)
        wait_job(client, job_id, running_with_progress, what="to be processing", group=procs)

        first.signal(signal.SIGKILL)
        first.wait_exit(timeout=10)
        procs.start("worker-2", ["worker"])

        job = wait_job(client, job_id, is_terminal, what="to finish on worker-2", group=procs)
        assert job["status"] == "completed", job
        assert job["attempt"] == 2  # the killed run counts as an attempt
        check_csv(client, job, rows=100)


@pytest.mark.parametrize(
    ("grace", "delay", "finished_by_first"),
    [
        pytest.param("30", 2.0, True, id="jobs-finish-within-grace"),
        pytest.param("0.5", 4.0, False, id="jobs-handed-back-after-grace"),
    ],
)
def test_sigterm_drains_a_busy_worker_without_losing_jobs(
    procs: ProcessGroup, grace: str, delay: float, finished_by_first: bool
) -> None:
    base_url = start_server(procs, worker=False)
    first = procs.start("worker-1", ["worker", "--concurrency", "4", "--grace", grace])
    with httpx.Client(base_url=base_url, timeout=10) as client:
        job_ids = [submit_report(client, rows=50, delay_seconds=delay) for _ in range(4)]
        for job_id in job_ids:
            wait_job(client, job_id, running_with_progress, what="to be processing", group=procs)

        first.signal(signal.SIGTERM)
        status = first.wait_exit(timeout=float(grace) + 15)
        assert status == 0, first.log()

        # Right after the exit nothing may still be leased by the dead worker: each job
        # either finished or was handed back to the queue (not left for the lease rescuer).
        states = {job_id: get_job(client, job_id) for job_id in job_ids}
        for job in states.values():
            assert job["status"] in {"completed", "queued"}, job
        if finished_by_first:
            assert all(job["status"] == "completed" for job in states.values()), states
        else:
            procs.start("worker-2", ["worker", "--concurrency", "4"])

        for job_id in job_ids:
            job = wait_job(client, job_id, is_terminal, what="to finish", group=procs)
            assert job["status"] == "completed", job
            # A run interrupted by a graceful shutdown is handed back and does not count.
            assert job["attempt"] == 1, job
            check_csv(client, job, rows=50)


async def test_concurrent_submits_with_one_idempotency_key_make_one_job(
    procs: ProcessGroup,
) -> None:
    base_url = start_server(procs, worker=False)
    body = {"rows": 10, "delay_seconds": 0}
    headers = {"Idempotency-Key": "e2e-one-key"}
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        answers = await asyncio.gather(
            *(client.post(f"{API}/reports", json=body, headers=headers) for _ in range(32))
        )
        listed = await client.get(f"{API}/jobs")

    assert [r.status_code for r in answers] == [202] * 32, [r.text for r in answers]
    job_ids = {r.json()["job_id"] for r in answers}
    assert len(job_ids) == 1
    replayed = [r.headers.get("Idempotent-Replayed") for r in answers]
    assert replayed.count("true") == 31, replayed
    assert listed.status_code == 200, listed.text
    assert [item["job_id"] for item in listed.json()["items"]] == list(job_ids)


def test_serve_with_embedded_worker(procs: ProcessGroup) -> None:
    base_url = start_server(procs, worker=True, extra=["--grace", "5"])
    server = procs.procs[-1]
    with httpx.Client(base_url=base_url, timeout=10) as client:
        done = submit_report(client, rows=1000, delay_seconds=0.3)
        slow = submit_report(client, rows=10, delay_seconds=600)
        failing = submit_report(client, rows=10, delay_seconds=0.3, fail_at_pct=50)

        job = wait_job(client, done, is_terminal, what="to finish", group=procs)
        assert job["status"] == "completed", job
        check_csv(client, job, rows=1000)

        job = wait_job(client, failing, is_terminal, what="to fail", group=procs)
        assert job["status"] == "failed", job
        error = job["error"]
        assert isinstance(error, dict)
        assert error["code"] == "report_failed_at_requested_pct"
        assert error["retryable"] is False
        assert "resubmit without fail_at_pct" in error["detail"]
        assert job["attempt"] == 1  # a permanent error is not retried

        wait_job(client, slow, lambda j: j["status"] == "processing", what="to start", group=procs)
        assert client.post(f"{API}/jobs/{slow}/cancel").status_code == 202
        job = wait_job(client, slow, is_terminal, what="to be cancelled", group=procs)
        assert job["status"] == "cancelled", job

    server.signal(signal.SIGTERM)
    assert server.wait_exit(timeout=30) == 0, server.log()


def test_migrate_prints_the_schema_version(procs: ProcessGroup) -> None:
    first = procs.run(["migrate"])
    assert first.returncode == 0, first.stderr
    match = re.search(r"schema version (\d+)", first.stdout)
    assert match, first.stdout
    assert int(match.group(1)) >= 1
    again = procs.run(["migrate"])
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout  # nothing left to apply: same version


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["worker", "no_such_module:lro"], "cannot import module 'no_such_module'"),
        (["worker", "lro.demo:nothing"], "has no attribute 'nothing'"),
        (["worker", "lro.demo:generate_report"], "not an lro.LRO object"),
        (["serve", "--store", "mysql://db/lro"], "unsupported store URL"),
        (["migrate", "--store", "mongodb://localhost"], "unsupported store URL"),
    ],
)
def test_operator_mistakes_get_one_line_errors(
    procs: ProcessGroup, args: list[str], message: str
) -> None:
    result = procs.run(args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_app_from_the_current_directory(procs: ProcessGroup) -> None:
    (procs.workdir / "myjobs.py").write_text(
        "from lro import LRO\n"
        "lro = LRO()\n"
        "@lro.operation('hello', route='/hello')\n"
        "async def hello(ctx):\n"
        "    return {'greeting': 'hello'}\n"
    )
    base_url = start_server(procs, worker=True, extra=["myjobs:lro"])
    with httpx.Client(base_url=base_url, timeout=10) as client:
        resp = client.post(f"{API}/hello", json={})
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["job_id"]
        job = wait_job(client, job_id, is_terminal, what="to finish", group=procs)
        assert job["status"] == "completed", job
        assert job["result"] == {"greeting": "hello"}


@pytest.mark.slow
def test_a_job_that_kills_every_worker_ends_failed_with_worker_lost(procs: ProcessGroup) -> None:
    """Three attempts, three SIGKILLed workers: the job is given up with an error that says
    why, instead of being retried forever or left `processing`."""
    base_url = start_server(procs, worker=False)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        job_id = submit_report(client, rows=10, delay_seconds=60)
        for attempt in (1, 2, 3):
            worker = procs.start(f"worker-{attempt}", ["worker"])
            wait_job(
                client,
                job_id,
                lambda j, n=attempt: j["status"] == "processing" and j["attempt"] == n,
                what=f"to run attempt {attempt}",
                group=procs,
            )
            worker.signal(signal.SIGKILL)
            worker.wait_exit(timeout=10)
        # Rescuing is a worker's job: one more worker takes the third expired lease back
        # and, with the attempts used up, gives the job up.
        procs.start("rescuer", ["worker"])
        job = wait_job(client, job_id, is_terminal, what="to be given up", group=procs)
        assert job["status"] == "failed", job
        error = job["error"]
        assert isinstance(error, dict)
        assert error["code"] == "worker_lost"
        assert error["attempts"] == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("s3://", "use s3://bucket/prefix"),
        ("s3://bucket/results?redirect=maybe", "use redirect=1 or redirect=0"),
        ("file://", "names no directory"),
    ],
)
def test_a_result_store_mistake_is_a_one_line_error(
    procs: ProcessGroup, spec: str, message: str
) -> None:
    for args in (["worker"], ["serve", "--no-worker"]):
        result = procs.run(args, env={"LRO_RESULT_STORE": spec})
        assert result.returncode == 1, result
        assert message in result.stderr
        assert "Traceback" not in result.stderr
