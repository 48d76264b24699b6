"""Metrics from real processes: `lro serve --no-worker` reports the store's figures at
/metrics, and `lro worker --metrics-port` reports what that worker ran."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.support.procs import (
    API,
    ProcessGroup,
    free_port,
    is_terminal,
    start_server,
    wait_for,
    wait_job,
)


def sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


def test_api_and_worker_processes_report_their_metrics(procs: ProcessGroup) -> None:
    base_url = start_server(procs, worker=False)
    port = free_port()
    procs.start("worker", ["worker", "--concurrency", "2", "--metrics-port", str(port)])
    worker_metrics = f"http://127.0.0.1:{port}/metrics"
    with httpx.Client(base_url=base_url, timeout=10) as client:
        answer = client.post(f"{API}/reports", json={"rows": 20})
        assert answer.status_code == 202, answer.text
        job = wait_job(client, answer.json()["job_id"], is_terminal, what="to end", group=procs)
        assert job["status"] == "completed"

        def worker_says_completed() -> str | None:
            try:
                text = httpx.get(worker_metrics, timeout=5).text
            except httpx.TransportError:
                return None  # not listening yet
            done = sample(
                text, "lro_job_attempts_total", operation="reports.generate", outcome="completed"
            )
            return text if done == 1 else None

        text = wait_for(
            worker_says_completed, timeout=30, what="the worker's metrics", diagnostics=procs.logs
        )
        assert sample(text, "lro_worker_slots", state="total") == 2
        assert sample(text, "lro_job_duration_seconds_count", operation="reports.generate") == 1
        # A worker process has no store figures: the API processes report those.
        assert sample(text, "lro_store_up") is None

        api_text = client.get("/metrics").text
        assert sample(api_text, "lro_jobs_submitted_total", operation="reports.generate") == 1
        assert sample(api_text, "lro_jobs", operation="reports.generate", status="completed") == 1
        assert sample(api_text, "lro_store_up") == 1
        assert sample(api_text, "lro_streams_open") == 0
