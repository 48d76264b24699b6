"""Long-job routes (HTTP-CONTRACT §14): /steps, /partials, POST .../retry, bulk cancel and
retry as jobs, their problems, and 501 on a store without the capability, on SQLite and
on Redis (the `lro` fixture here). The worker's part is played through the store's own
verbs, except for the bulk jobs, which a real worker runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.helpers import (
    PREFIX,
    assert_problem,
    claim,
    complete,
    count_jobs,
    fail,
    lease,
    make_lro,
)
from tests.worker.helpers import running_worker, wait_job

from lro import LRO, Status
from lro.models import utcnow
from lro.store.steps import PartialWrite, Steps


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def lro(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LRO]:
    """The API tests' app (tests/api/conftest.py), on each backend with long jobs."""
    if request.param == "sqlite":
        app = make_lro(tmp_path)
        await app.start()
        try:
            yield app
        finally:
            await app.stop()
        return
    from tests.support.redis import fresh_database

    async with fresh_database() as url:
        app = make_lro(tmp_path, store_url=url)
        await app.start()
        try:
            yield app
        finally:
            await app.stop()


def steps_of(lro: LRO) -> Steps:
    assert lro.store.steps is not None
    return lro.store.steps


async def submit(client: httpx.AsyncClient, text: str = "a") -> dict[str, Any]:
    r = await client.post(f"{PREFIX}/echo", json={"text": text})
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_steps_route_lists_steps_in_order_first_started(
    lro: LRO, client: httpx.AsyncClient
) -> None:
    job_id = (await submit(client))["job_id"]
    r = await client.get(f"{PREFIX}/jobs/{job_id}/steps")
    assert r.status_code == 200 and r.json() == {"items": []}
    job = await claim(lro)
    steps = steps_of(lro)
    assert await steps.start_step(lease(job), "download", utcnow())
    assert await steps.finish_step(lease(job), "download", {"big": "x" * 10}, utcnow())
    assert await steps.start_step(lease(job), "parse", utcnow())
    r = await client.get(f"{PREFIX}/jobs/{job_id}/steps")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [(i["name"], i["status"], i["attempt"]) for i in items] == [
        ("download", "completed", 1),
        ("parse", "running", 1),
    ]
    assert set(items[0]) == {"name", "status", "attempt", "started_at", "finished_at"}
    assert items[0]["finished_at"].endswith("Z") and items[1]["finished_at"] is None
    assert_problem(await client.get(f"{PREFIX}/jobs/nope/steps"), 404)


async def test_partials_route_pages_with_after(lro: LRO, client: httpx.AsyncClient) -> None:
    job_id = (await submit(client))["job_id"]
    job = await claim(lro)
    values = [{"row": 1}, "two", [3], None]
    assert await steps_of(lro).append_partials([PartialWrite(lease(job), values)], utcnow()) == [
        True
    ]
    r = await client.get(f"{PREFIX}/jobs/{job_id}/partials", params={"limit": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(i["seq"], i["data"]) for i in body["items"]] == [(1, {"row": 1}), (2, "two")]
    assert body["next_after"] == 2 and body["items"][0]["created_at"].endswith("Z")
    r = await client.get(f"{PREFIX}/jobs/{job_id}/partials", params={"after": 2})
    assert [(i["seq"], i["data"]) for i in r.json()["items"]] == [(3, [3]), (4, None)]
    r = await client.get(f"{PREFIX}/jobs/{job_id}/partials", params={"after": 4})
    assert r.json() == {"items": [], "next_after": 4}
    assert_problem(await client.get(f"{PREFIX}/jobs/{job_id}/partials?after=-1"), 400)
    assert_problem(await client.get(f"{PREFIX}/jobs/{job_id}/partials?limit=0"), 400)
    assert_problem(await client.get(f"{PREFIX}/jobs/nope/partials"), 404)


async def test_retry_of_a_failed_job_queues_it_again_with_its_steps(
    lro: LRO, client: httpx.AsyncClient
) -> None:
    job_id = (await submit(client))["job_id"]
    job = await claim(lro)
    assert await steps_of(lro).finish_step(lease(job), "first", 1, utcnow())
    failed = await fail(lro, job)
    assert failed.expires_at is not None

    r = await client.post(f"{PREFIX}/jobs/{job_id}/retry")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["job_id"] == job_id and body["status"] == "queued"
    assert body.get("error") is None and body.get("expires_at") is None
    assert body["attempt"] == 1 and body["max_attempts"] == 3  # attempts left: unchanged
    assert r.headers["location"] == f"{PREFIX}/jobs/{job_id}"
    assert (await steps_of(lro).resume(job_id)).completed == {"first": 1}
    # Queued again: a second retry is a conflict until it ends again.
    problem = assert_problem(await client.post(f"{PREFIX}/jobs/{job_id}/retry"), 409)
    assert problem["job_status"] == "queued"


async def test_retry_grants_one_more_attempt_when_they_are_used_up(
    lro: LRO, client: httpx.AsyncClient
) -> None:
    job_id = (await submit(client))["job_id"]
    for n in range(3):
        job = await claim(lro)
        assert job.attempt == n + 1
        await fail(lro, job) if n == 2 else await _retry_later(lro, job)
    r = await client.post(f"{PREFIX}/jobs/{job_id}/retry")
    assert r.status_code == 202
    assert (r.json()["attempt"], r.json()["max_attempts"]) == (3, 4)
    again = await claim(lro)
    assert again.id == job_id and again.attempt == 4


async def _retry_later(lro: LRO, job: Any) -> None:
    from lro.models import ErrorDetail, Failure

    error = ErrorDetail("https://lro.dev/problems/x", "x", "x", "x", True, job.attempt)
    [queued] = await lro.store.fail_jobs(
        [Failure(lease(job), error, retry_at=utcnow() - timedelta(seconds=1))], utcnow(), 3600
    )
    assert queued is not None and queued.status is Status.QUEUED


async def test_retry_refuses_queued_processing_and_completed_jobs(
    lro: LRO, client: httpx.AsyncClient
) -> None:
    job_id = (await submit(client))["job_id"]
    for status in ("queued", "processing", "completed"):
        if status == "processing":
            job = await claim(lro)
        if status == "completed":
            await complete(lro, job, {"ok": True})
        problem = assert_problem(await client.post(f"{PREFIX}/jobs/{job_id}/retry"), 409)
        assert problem["job_status"] == status
    assert_problem(await client.post(f"{PREFIX}/jobs/nope/retry"), 404)


async def test_a_cancelled_job_can_be_retried(lro: LRO, client: httpx.AsyncClient) -> None:
    job_id = (await submit(client))["job_id"]
    assert (await client.post(f"{PREFIX}/jobs/{job_id}/cancel")).status_code == 202
    r = await client.post(f"{PREFIX}/jobs/{job_id}/retry")
    assert r.status_code == 202 and r.json()["status"] == "queued"
    assert r.json().get("cancel_requested") in (None, False)


async def test_bulk_filters_are_validated_and_change_nothing(
    lro: LRO, client: httpx.AsyncClient
) -> None:
    await submit(client)
    before = await count_jobs(lro)
    cases: list[tuple[Any, int, str]] = [
        ({"tag": ""}, 422, "/tag"),
        ({"tag": "a\u0000b"}, 422, "/tag"),
        ({"status": "sleeping"}, 422, "/status"),
        ({"colour": "red"}, 422, "/colour"),
        ({"created_before": "yesterday"}, 422, "/created_before"),
        ({"created_after": "2026-12-01T10:00:00"}, 422, "/created_after"),
        ([], 422, ""),
    ]
    for body, status, pointer in cases:
        r = await client.post(f"{PREFIX}/jobs/bulk/cancel", json=body)
        problem = assert_problem(r, status)
        if pointer:
            assert any(e["pointer"] == pointer for e in problem["errors"]), problem
    assert_problem(
        await client.post(
            f"{PREFIX}/jobs/bulk/retry",
            content=b"{not json",
            headers={"content-type": "application/json"},
        ),
        400,
    )
    assert await count_jobs(lro) == before
    # lro's own operations cannot be submitted by name.
    r = await client.post(f"{PREFIX}/jobs", json={"operation": "lro.bulk.cancel", "params": {}})
    assert_problem(r, 422)
    assert await count_jobs(lro) == before


async def test_bulk_cancel_and_retry_are_jobs(lro: LRO, client: httpx.AsyncClient) -> None:
    # Due in an hour: still queued when the bulk job runs (a retry makes them due now).
    ids = [(await lro.submit("echo", {"text": str(n)}, delay=3600)).id for n in range(5)]
    ping = await lro.submit("ping")
    r = await client.post(f"{PREFIX}/jobs/bulk/cancel", json={"operation": "echo"})
    assert r.status_code == 202, r.text
    bulk = r.json()
    assert bulk["operation"] == "lro.bulk.cancel" and bulk["status"] == "queued"
    assert r.headers["location"] == f"{PREFIX}/jobs/{bulk['job_id']}"
    async with running_worker(lro, 1):
        done = await wait_job(lro, bulk["job_id"], timeout=60)
        assert done.status is Status.COMPLETED, done
        assert done.result == {"matched": 5, "changed": 5}
        assert done.progress_pct == 100 and done.step == "5 of 5 jobs"
        for job_id in ids:
            job = await lro.store.get_job(job_id)
            assert job is not None and job.status is Status.CANCELLED
        # The ping job did not fit the filter; it ran.
        assert (await wait_job(lro, ping.id)).status is Status.COMPLETED

        r = await client.post(
            f"{PREFIX}/jobs/bulk/retry", json={"status": "cancelled", "operation": "echo"}
        )
        assert r.status_code == 202, r.text
        retried = await wait_job(lro, r.json()["job_id"], timeout=60)
        assert retried.result == {"matched": 5, "changed": 5}
        for job_id in ids:
            assert (await wait_job(lro, job_id)).status is Status.COMPLETED
    steps = await client.get(f"{PREFIX}/jobs/{bulk['job_id']}/steps")
    assert [i["name"] for i in steps.json()["items"]] == ["select"]


async def test_without_the_capability_the_routes_answer_501(
    lro: LRO, client: httpx.AsyncClient
) -> None:
    job_id = (await submit(client))["job_id"]
    lro.store.steps = None  # type: ignore[misc]  # a backend without long jobs
    for method, path in (
        ("GET", f"/jobs/{job_id}/steps"),
        ("GET", f"/jobs/{job_id}/partials"),
        ("POST", f"/jobs/{job_id}/retry"),
        ("POST", "/jobs/bulk/cancel"),
        ("POST", "/jobs/bulk/retry"),
    ):
        problem = assert_problem(await client.request(method, PREFIX + path), 501)
        assert "SQLite or PostgreSQL" in problem["detail"]
    assert_problem(await client.get(f"{PREFIX}/jobs/nope/steps"), 404)  # 404 stays 404


async def test_a_bulk_action_takes_what_its_select_step_may_hold(tmp_path: Path) -> None:
    """The selected ids are the select step's result: the cap follows
    LRO_MAX_STEP_RESULT_BYTES (about 40 bytes per id), the rest is left for a rerun."""
    lro = make_lro(tmp_path, max_step_result_bytes=120)  # room for 3 ids
    await lro.start()
    try:
        ids = [(await lro.submit("echo", {"text": str(n)}, delay=3600)).id for n in range(5)]
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.post(f"{PREFIX}/jobs/bulk/cancel", json={"status": "queued"})
            assert r.status_code == 202, r.text
            async with running_worker(lro, 1):
                done = await wait_job(lro, r.json()["job_id"], timeout=60)
        assert done.result == {"matched": 3, "changed": 3}, done
        statuses = [(await lro.store.get_job(i)).status for i in ids]  # type: ignore[union-attr]
        assert statuses == [Status.CANCELLED] * 3 + [Status.QUEUED] * 2  # oldest first
    finally:
        await lro.stop()
