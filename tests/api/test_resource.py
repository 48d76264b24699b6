"""The job resource renderer (lro.resource) against the contract's field list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from lro.api.schemas import JobResource
from lro.models import ErrorDetail, Job, ResultRef, Status
from lro.resource import job_resource, rfc3339

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def job(**kw: object) -> Job:
    base: dict[str, object] = dict(
        id="j1",
        operation="op",
        status=Status.QUEUED,
        params={},
        owner="",
        priority=0,
        progress_pct=0.0,
        step=None,
        attempt=0,
        max_attempts=3,
        timeout_seconds=None,
        run_at=T0,
        created_at=T0,
        updated_at=T0,
        started_at=None,
        finished_at=None,
        expires_at=None,
        estimated_duration_seconds=120.0,
        version=1,
    )
    base.update(kw)
    return Job(**base)  # type: ignore[arg-type]


def test_queued_resource() -> None:
    r = job_resource(job(), "/api/v1")
    assert r["created_at"] == "2026-11-29T10:00:00Z"
    assert r["estimated_duration_seconds"] == 120
    assert r["poll_url"] == "/api/v1/jobs/j1"
    assert r["events_url"] == "/api/v1/jobs/j1/events"
    assert r["result_url"] is None and r["result"] is None and r["error"] is None
    # The OpenAPI model documents exactly the fields the renderer writes.
    assert set(r) == set(JobResource.model_fields)
    JobResource.model_validate(r)


def test_completed_inline_and_artifact() -> None:
    done = job(
        status=Status.COMPLETED,
        progress_pct=99.5,
        result={"a": 1},
        finished_at=T0,
        expires_at=T0 + timedelta(days=7),
    )
    r = job_resource(done, "")
    assert r["progress_pct"] == 100
    assert r["result"] == {"a": 1}
    assert r["result_url"] == "/jobs/j1/result"
    assert r["expires_at"] == "2026-12-06T10:00:00Z"
    artifact = job_resource(
        job(status=Status.COMPLETED, result_ref=ResultRef("j1/result/x", "text/csv", 3)), ""
    )
    assert artifact["result"] is None and artifact["result_url"]


def test_failed_has_error_and_no_result_url() -> None:
    err = ErrorDetail("t", "title", "detail", "code", False, 2)
    r = job_resource(job(status=Status.FAILED, error=err), "/p")
    assert r["error"]["code"] == "code" and r["error"]["attempts"] == 2
    assert r["result_url"] is None


def test_rfc3339_always_has_an_offset() -> None:
    assert rfc3339(datetime(2026, 1, 1, 12, 30)) == "2026-01-01T12:30:00Z"
    plus_two = datetime(2026, 1, 1, 12, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    assert rfc3339(plus_two) == "2026-01-01T12:00:00Z"
    assert rfc3339(None) is None
