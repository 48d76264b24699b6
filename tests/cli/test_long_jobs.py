"""`lro retry JOB` and `lro wait --partials` as subprocesses against real servers: the
shared demo server for retry, and one serving tests/e2e/long_app (whose loop makes a
partial result per ten items) for the partials."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.conftest import Lro, report
from tests.support.procs import ProcessGroup, base_env, start_server

from lro.client import Client

E2E = Path(__file__).resolve().parents[1] / "e2e"


def test_retry_a_failed_job_then_a_conflict(lro: Lro, api: Client) -> None:
    job_id = report(api, rows=10, fail_at_pct=0)
    assert api.wait(job_id, timeout=30).status == "failed"
    out = lro.ok("retry", job_id)
    assert f"retrying job {job_id}" in out and f"lro wait {job_id}" in out
    again = api.wait(job_id, timeout=30)  # fails again: fail_at_pct still holds
    assert again.status == "failed" and again.attempt == 2
    doc = json.loads(lro.ok("retry", job_id, "--json"))
    assert doc["job_id"] == job_id and doc["status"] in ("queued", "processing", "failed")

    done = report(api, rows=1)
    assert api.wait(done, timeout=30).status == "completed"
    refused = lro("retry", done)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("lro: error: ") and "(HTTP 409)" in refused.stderr


@pytest.fixture(scope="module")
def long_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("lro-long")
    env = base_env(
        workdir, PYTHONPATH=os.pathsep.join([str(E2E), os.environ.get("PYTHONPATH", "")])
    )
    group = ProcessGroup(workdir=workdir, env=env)
    try:
        yield start_server(group, worker=True, extra=["long_app:lro"])
    finally:
        group.close()


def test_wait_partials_prints_each_partial_as_a_json_line(
    lro: Lro, long_server: str, tmp_path: Path
) -> None:
    with Client(long_server) as client:
        params = {"log": str(tmp_path / "log"), "gate": "-", "items": 50, "stop_at": 0}
        job = client.submit("long.loop", params)
    proc = lro("wait", job.job_id, "--partials", "--url", long_server)
    assert proc.returncode == 0, proc
    lines = proc.stdout.splitlines()
    partials = [json.loads(line) for line in lines if line.startswith("{")]
    assert partials == [{"through": 10 * n + 9} for n in range(5)], proc
    assert lines[: len(partials)] == [json.dumps(p, separators=(",", ":")) for p in partials]
    assert any("completed" in line for line in lines[len(partials) :])
