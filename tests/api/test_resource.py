"""The job resource renderer (lro.resource) against the contract's field list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from tests.support.jobs import T0
from tests.support.jobs import make_job as job

from lro.api.schemas import JobResource
from lro.models import ErrorDetail, ResultRef, Status
from lro.resource import job_resource, rfc3339


def test_queued_resource() -> None:
    r = job_resource(job(), "/api/v1")
    assert r["created_at"] == "2026-11-29T10:00:00Z"
    assert r["estimated_duration_seconds"] == 120
    assert r["poll_url"] == "/api/v1/jobs/j1"
    assert r["events_url"] == "/api/v1/jobs/j1/events"
    assert r["result_url"] is None and r["result"] is None and r["error"] is None
    # The OpenAPI model documents exactly the fields the renderer writes, plus the signed
    # result_link that the API adds (it needs the link key).
    assert set(r) | {"result_link"} == set(JobResource.model_fields)
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
