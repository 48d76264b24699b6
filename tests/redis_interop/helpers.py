"""Small helpers of the Redis interop tests: submit through lro's HTTP API, read the job
resource, its SSE stream and its deliveries, and wait on them with bounded waits."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
from tests.support.procs import API, LroProcess, ProcessGroup, start_server, wait_for

APP = "app_interop:lro"
HERE = Path(__file__).resolve().parent


def start_api(procs: ProcessGroup, *, worker: bool) -> str:
    return start_server(procs, worker=worker, extra=[APP])


def start_py_worker(
    procs: ProcessGroup, redis_url: str, name: str = "py-worker", *extra: str
) -> LroProcess:
    argv = [sys.executable, str(HERE / "py_worker.py"), redis_url, *extra]
    proc = procs.start_command(name, argv)
    wait_for(
        lambda: "ready" in proc.log(),
        timeout=30,
        what=f"{name} to start",
        diagnostics=proc.log,
    )
    return proc


def submit(client: httpx.Client, **body: Any) -> str:
    r = client.post(f"{API}/add", json=body)
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    return job_id


def job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    r = client.get(f"{API}/jobs/{job_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def wait_job(
    client: httpx.Client, job_id: str, what: str, procs: ProcessGroup, **fields: Any
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        j = job(client, job_id)
        return j if all(j.get(k) == v for k, v in fields.items()) else None

    found: dict[str, Any] = wait_for(
        check,
        timeout=30,
        what=f"job {job_id} {what} ({fields})",
        diagnostics=lambda: f"{job(client, job_id)}\n{procs.logs()}",
    )
    return found


def sse_events(client: httpx.Client, job_id: str, last_event_id: int = 0) -> list[dict[str, Any]]:
    """Every event of the stream after `last_event_id`, read until the stream closes (it
    closes after the terminal event)."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    headers = {"Last-Event-ID": str(last_event_id)}
    with client.stream("GET", f"{API}/jobs/{job_id}/events", headers=headers) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if not line:
                if "event" in current:
                    events.append(current)
                current = {}
            elif line.startswith("id:"):
                current["id"] = int(line[3:].strip())
            elif line.startswith("event:"):
                current["event"] = line[6:].strip()
            elif line.startswith("data:"):
                current["data"] = json.loads(line[5:].strip())
    return events


def deliveries(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    r = client.get(f"{API}/jobs/{job_id}/deliveries")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items
