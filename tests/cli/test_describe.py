"""The words the commands print for a job: the ETA, durations, the error explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lro.cli.jobs import describe
from lro.client import JobResource

T0 = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)


def job(**fields: Any) -> JobResource:
    base: dict[str, Any] = {
        "job_id": "j1",
        "operation": "reports.generate",
        "status": "processing",
        "attempt": 1,
        "max_attempts": 3,
        "created_at": T0,
        "started_at": T0,
        "updated_at": T0,
        "estimated_duration_seconds": 20,
    }
    return JobResource(**{**base, **fields})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_eta_follows_the_jobs_own_rate() -> None:
    # 25% reached 10 s after the start: 40 s in all, 30 s left then, 25 s left at t=15.
    running = job(progress_pct=25, updated_at=at(10))
    assert describe.eta_seconds(running, at(10)) == 30
    assert describe.eta_seconds(running, at(15)) == 25
    assert describe.eta_seconds(running, at(99)) == 0  # overdue: due now, never negative


def test_eta_falls_back_to_the_servers_estimate() -> None:
    assert describe.eta_seconds(job(status="queued", started_at=None), at(5)) == 20
    assert describe.eta_seconds(job(progress_pct=0), at(5)) == 15
    assert describe.eta_seconds(job(estimated_duration_seconds=None), at(5)) is None
    assert describe.eta_seconds(job(progress_pct=100, step="done"), at(5)) == 0
    assert describe.eta_seconds(job(status="completed", progress_pct=100), at(5)) is None


def test_durations_and_clocks() -> None:
    assert [describe.duration(s) for s in (0.42, 12, 185, 7800, 3 * 86400 + 4 * 3600)] == [
        "0.4s",
        "12s",
        "3m 05s",
        "2h 10m",
        "3d 4h",
    ]
    assert describe.clock(3725) == "1:02:05"
    assert describe.clock(None) == "-:--:--"


def test_a_failure_is_explained_with_what_to_do() -> None:
    failed = job(
        status="failed",
        progress_pct=50,
        error={
            "type": "https://lro.dev/problems/job-failed",
            "title": "Report generation failed",
            "detail": "fail_at_pct=50 was requested",
            "code": "report_failed_at_requested_pct",
            "retryable": False,
            "attempts": 1,
        },
    )
    rows = {label: text for label, text, _style in describe.error_rows(failed)}
    assert rows["error"] == "Report generation failed"
    assert rows["detail"] == "fail_at_pct=50 was requested"
    assert rows["code"] == "report_failed_at_requested_pct"
    assert rows["retryable"].startswith("no:")
    assert rows["attempts"] == "1 of 3"


def test_the_result_location_is_absolute_with_the_download_hint() -> None:
    done = job(status="completed", progress_pct=100, result_url="/api/v1/jobs/j1/result")
    rows = describe.result_rows(done, "http://h:8000", " --url http://h:8000")
    assert rows == [
        ("result", "http://h:8000/api/v1/jobs/j1/result", "bold"),
        ("download", "lro result j1 -o FILE --url http://h:8000", ""),
    ]
