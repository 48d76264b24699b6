"""The job answer (api/views.py): its body is exactly the bytes Starlette's JSONResponse
gives for the job resource, its headers are the contract's, and an unchanged job's body
is rendered once (`JobRenders`) while any change renders it anew."""

from __future__ import annotations

import math
from typing import Any

import pytest
from starlette.responses import JSONResponse
from tests.support.jobs import T0, make_job

from lro.api.headers import job_etag
from lro.api.views import JobRenders, job_response, not_modified
from lro.models import Job, Status
from lro.resource import job_resource

JOBS: list[Job] = [
    make_job(),
    make_job(status=Status.PROCESSING, progress_pct=12.5, step="grüße, 東京 🚀", started_at=T0),
    make_job(params={"quote": '" and \\'}, metadata={"nested": {"a": [1, 2.0]}}, tags=("x",)),
    make_job(status=Status.COMPLETED, result={"big": 10**30, "neg": -0.0}, finished_at=T0),
]


def headers_of(response: Any) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in response.raw_headers}


@pytest.mark.parametrize("job", JOBS)
@pytest.mark.parametrize("kept", [False, True])
def test_the_same_bytes_as_starlette(job: Job, kept: bool) -> None:
    renders = JobRenders() if kept else None
    expected = JSONResponse(job_resource(job, "/api/v1")).body
    assert job_response(job, "/api/v1", renders=renders).body == expected
    assert job_response(job, "/api/v1", renders=renders).body == expected  # kept, the same


def test_the_contract_headers() -> None:
    running = make_job(status=Status.PROCESSING, started_at=T0)
    response = job_response(running, "/api/v1", headers={"Location": "/api/v1/jobs/j1"})
    headers = headers_of(response)
    assert headers == {
        "etag": job_etag(running, "/api/v1"),
        "cache-control": "no-cache",
        "retry-after": headers["retry-after"],
        "content-location": "/api/v1/jobs/j1",
        "location": "/api/v1/jobs/j1",
        "content-length": str(len(response.body)),
        "content-type": "application/json",
    }
    assert int(headers["retry-after"]) >= 1
    done = make_job(status=Status.COMPLETED, finished_at=T0)
    assert "retry-after" not in headers_of(job_response(done, "/api/v1"))
    assert "retry-after" in headers_of(job_response(done, "/api/v1", retry_after=True))


def test_a_304_has_the_tags_but_no_body() -> None:
    job = make_job()
    etag = job_etag(job, "/p")
    response = not_modified(job, "/p", etag)
    assert response.status_code == 304 and response.body == b""
    assert headers_of(response).keys() == {"etag", "cache-control", "retry-after"}
    assert headers_of(response)["etag"] == etag


def test_a_new_version_or_base_path_is_rendered_anew() -> None:
    v1 = make_job()
    v2 = make_job(version=2, status=Status.PROCESSING, started_at=T0)
    size = len(job_response(v1, "/a").body)
    renders = JobRenders(max_bytes=64 * size + 10)  # room for about two bodies
    first = job_response(v1, "/a", renders=renders).body
    assert job_response(v2, "/a", renders=renders).body == JSONResponse(job_resource(v2, "/a")).body
    assert job_response(v1, "/b", renders=renders).body == JSONResponse(job_resource(v1, "/b")).body
    assert len(renders) >= 1
    assert job_response(v1, "/a", renders=renders).body == first


def test_the_bodies_kept_are_bounded_by_their_bytes() -> None:
    renders = JobRenders(max_bytes=64 * 1024)
    for i in range(500):
        job_response(make_job(id=f"j{i}"), "/a", renders=renders)
    size = len(job_response(make_job(id="j0"), "/a").body)
    assert 0 < len(renders) * size <= 64 * 1024
    huge = make_job(id="big", metadata={"blob": "x" * 2048})
    fresh = JobRenders(max_bytes=64 * 1024)
    body = job_response(huge, "/a", renders=fresh).body
    assert body == JSONResponse(job_resource(huge, "/a")).body
    assert len(fresh) == 0  # over a sixty-fourth of the bound: answered, not kept


def test_an_answer_with_a_signed_link_is_not_kept() -> None:
    renders = JobRenders()
    done = make_job(status=Status.COMPLETED, finished_at=T0, result=1)
    body = job_response(done, "/a", link="/a/signed/x", renders=renders).body
    assert b'"result_link":"/a/signed/x"' in body
    assert len(renders) == 0


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_as_starlette_refuses_them(value: float) -> None:
    job = make_job(status=Status.COMPLETED, result={"x": value}, finished_at=T0)
    with pytest.raises(ValueError):
        JSONResponse(job_resource(job, "/a"))
    with pytest.raises(ValueError):
        job_response(job, "/a")
