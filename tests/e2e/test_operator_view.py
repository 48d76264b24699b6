"""End-to-end: what an operator sees of real `lro serve` and `lro worker` processes
(HTTP-CONTRACT §18): the live workers (`GET /workers`, `lro workers`), a killed worker
dropping out, and every line both processes write to stdout and stderr as one JSON object
(stderr is a file here, not a terminal, so json is the default)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
from tests.support.procs import (
    API,
    LroProcess,
    ProcessGroup,
    free_port,
    wait_for,
    wait_healthy,
    wait_job,
)

JOB_FIELDS = ("job_id", "operation", "attempt", "worker_id")

APP = """
import logging
import warnings

from lro import LRO, JobContext

lro = LRO()


@lro.operation("chatty.sync")
def chatty(ctx: JobContext) -> str:
    # A sync handler (run in a thread) logging through the job's logger, a library's
    # own logger, and a warning: every one of these lines is about the job.
    ctx.logger.info("starting")
    logging.getLogger("some.library").warning("a library speaks")
    warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
    return "done"
"""


def json_lines(proc: LroProcess) -> list[dict[str, object]]:
    """Every line the process wrote, each parsed as one JSON object with the base fields."""
    records = []
    for line in proc.log_path.read_text().splitlines():
        record = json.loads(line)  # fails the test on any line that is not JSON
        assert isinstance(record, dict), line
        for key in ("ts", "level", "logger", "message"):
            assert key in record, (key, line)
        records.append(record)
    return records


def listed(client: httpx.Client) -> list[dict[str, object]]:
    answer = client.get(f"{API}/workers")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def test_workers_are_listed_logs_are_json_and_a_killed_worker_drops_out(
    procs: ProcessGroup, tmp_path: Path
) -> None:
    (tmp_path / "chatty.py").write_text(APP)
    port = free_port()
    api = procs.start("api", ["serve", "chatty:lro", "--port", str(port), "--no-worker"])
    base_url = f"http://127.0.0.1:{port}"
    wait_healthy(api, base_url)
    worker = procs.start(
        "worker", ["worker", "chatty:lro", "--concurrency", "2"], env={"PYTHONWARNINGS": "always"}
    )
    with httpx.Client(base_url=base_url, timeout=10) as client:
        [item] = wait_for(
            lambda: [w for w in listed(client) if w["pid"] == worker.pid] or None,
            timeout=30,
            what="the worker to register",
            diagnostics=procs.logs,
        )
        assert (item["concurrency"], item["queues"]) == (2, ["default"])
        # Every operation the worker runs, lro's own bulk actions included.
        assert item["operations"] == ["chatty.sync", "lro.bulk.cancel", "lro.bulk.retry"]

        answer = client.post(f"{API}/jobs", json={"operation": "chatty.sync"})
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["job_id"]
        wait_job(client, job_id, lambda j: j["status"] == "completed", what="to complete")

        # The CLI lists the same worker, as a table and as JSON.
        shown = procs.run(["workers", "--url", base_url])
        assert shown.returncode == 0, shown.stderr
        assert str(item["worker_id"]) in shown.stdout and "0/2" in shown.stdout
        as_json = procs.run(["workers", "--url", base_url, "--json"])
        assert as_json.returncode == 0, as_json.stderr
        assert [w["worker_id"] for w in json.loads(as_json.stdout)["items"]] == [item["worker_id"]]

        # A killed worker beats no more; it drops out (within 2 x LRO_LEASE_SECONDS = 4 s).
        worker.signal(signal.SIGKILL)
        worker.wait_exit(timeout=10)
        wait_for(
            lambda: listed(client) == [],
            timeout=30,
            what="the killed worker to drop out",
            diagnostics=procs.logs,
        )

    # Every line both processes wrote is JSON; the job's lines carry its fields.
    worker_lines = json_lines(worker)
    about_job = [r for r in worker_lines if r.get("job_id") == job_id]
    assert {r["logger"] for r in about_job} >= {"lro.job", "some.library", "py.warnings"}
    for record in about_job:
        assert {k: record.get(k) for k in JOB_FIELDS} == {
            "job_id": job_id,
            "operation": "chatty.sync",
            "attempt": 1,
            "worker_id": item["worker_id"],
        }, record
    api.signal(signal.SIGTERM)
    assert api.wait_exit(timeout=30) == 0
    api_lines = json_lines(api)
    access = [r for r in api_lines if r["logger"] == "uvicorn.access"]
    submitted = f"{API}/jobs"
    assert any(r.get("path") == submitted and r.get("status_code") == 202 for r in access)
    assert any(r["logger"] == "uvicorn.error" for r in api_lines)  # uvicorn's own lines
    assert not any("color_message" in r for r in api_lines)  # no terminal colour codes
    assert all(r["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} for r in api_lines)


def test_text_format_on_request_and_a_bad_format_is_refused(procs: ProcessGroup) -> None:
    port = free_port()
    api = procs.start(
        "api-text", ["serve", "--port", str(port), "--no-worker"], env={"LRO_LOG_FORMAT": "text"}
    )
    wait_healthy(api, f"http://127.0.0.1:{port}")
    api.signal(signal.SIGTERM)
    assert api.wait_exit(timeout=30) == 0
    lines = api.log_path.read_text().splitlines()
    assert lines and not any(line.startswith("{") for line in lines), lines
    assert any(" INFO    lro.cli: serving " in line for line in lines), lines

    bad = procs.run(["worker"], env={"LRO_LOG_FORMAT": "yaml"})
    assert bad.returncode == 2
    assert "LRO_LOG_FORMAT must be json or text" in bad.stderr


def test_a_start_up_error_is_one_json_line(procs: ProcessGroup) -> None:
    failed = procs.run(["worker", "nosuch:lro"])
    assert failed.returncode == 1
    [line] = failed.stderr.splitlines()
    record = json.loads(line)
    assert (record["level"], record["logger"]) == ("ERROR", "lro.cli")
    assert "cannot import module 'nosuch'" in record["message"]
