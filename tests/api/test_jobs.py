"""Polling, long polls, cancel, delete, list (HTTP-CONTRACT §2, §5)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
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
    progress,
)

from lro import LRO
from lro.api import views
from lro.models import Status, utcnow
from lro.store import SweepParams


async def submit(client: httpx.AsyncClient, text: str = "a") -> dict[str, Any]:
    r = await client.post(f"{PREFIX}/echo", json={"text": text})
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_poll_renders_the_resource(client: httpx.AsyncClient, lro: LRO) -> None:
    job_id = (await submit(client))["job_id"]
    r = await client.get(f"{PREFIX}/jobs/{job_id}")
    assert r.status_code == 200
    body = r.json()
    for field in [
        "job_id",
        "operation",
        "status",
        "progress_pct",
        "step",
        "attempt",
        "max_attempts",
        "created_at",
        "started_at",
        "updated_at",
        "finished_at",
        "expires_at",
        "estimated_duration_seconds",
        "result_url",
        "result",
        "error",
    ]:
        assert field in body
    assert body["status"] == "queued" and body["attempt"] == 0 and body["max_attempts"] == 3
    assert body["result_url"] is None and body["error"] is None and body["expires_at"] is None
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["etag"].startswith('"')

    job = await claim(lro)
    await progress(lro, job, 40, "crunching")
    body = (await client.get(f"{PREFIX}/jobs/{job_id}")).json()
    assert body["status"] == "processing" and body["attempt"] == 1
    assert body["progress_pct"] == 40 and body["step"] == "crunching"
    assert body["started_at"].endswith("Z")

    await complete(lro, job, {"n": 1})
    r = await client.get(f"{PREFIX}/jobs/{job_id}")
    body = r.json()
    assert body["status"] == "completed" and body["progress_pct"] == 100
    assert body["result"] == {"n": 1}
    assert body["result_url"] == f"{PREFIX}/jobs/{job_id}/result"
    assert body["finished_at"].endswith("Z") and body["expires_at"].endswith("Z")
    assert "retry-after" not in r.headers
    assert "etag" in r.headers


async def test_failed_job_carries_an_error(client: httpx.AsyncClient, lro: LRO) -> None:
    job_id = (await submit(client))["job_id"]
    await fail(lro, await claim(lro))
    body = (await client.get(f"{PREFIX}/jobs/{job_id}")).json()
    assert body["status"] == "failed"
    assert body["result_url"] is None
    assert body["error"]["code"] == "bad_input"
    assert set(body["error"]) == {"type", "title", "detail", "code", "retryable", "attempts"}


async def test_etag_and_304(client: httpx.AsyncClient, lro: LRO) -> None:
    job_id = (await submit(client))["job_id"]
    r = await client.get(f"{PREFIX}/jobs/{job_id}")
    etag = r.headers["etag"]
    again = await client.get(f"{PREFIX}/jobs/{job_id}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert int(again.headers["retry-after"]) >= 1
    listed = await client.get(
        f"{PREFIX}/jobs/{job_id}", headers={"If-None-Match": f'"other", W/{etag}'}
    )
    assert listed.status_code == 304
    await claim(lro)
    changed = await client.get(f"{PREFIX}/jobs/{job_id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


async def test_long_poll_wakes_on_a_change(client: httpx.AsyncClient, lro: LRO) -> None:
    job_id = (await submit(client))["job_id"]
    etag = (await client.get(f"{PREFIX}/jobs/{job_id}")).headers["etag"]
    poll = asyncio.create_task(
        client.get(f"{PREFIX}/jobs/{job_id}?wait=5", headers={"If-None-Match": etag})
    )
    await asyncio.sleep(0.05)
    assert not poll.done()
    job = await claim(lro)
    r = await poll
    assert r.status_code == 200
    assert r.json()["status"] == "processing"
    assert r.headers["etag"] != etag

    # Without If-None-Match: wait for a change from the state at arrival (progress counts).
    poll = asyncio.create_task(client.get(f"{PREFIX}/jobs/{job_id}?wait=5"))
    await asyncio.sleep(0.05)
    await progress(lro, job, 50)
    r = await poll
    assert r.json()["progress_pct"] == 50


async def test_long_poll_rechecks_when_a_notification_is_lost(
    client: httpx.AsyncClient, lro: LRO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Notifications lost (as while a LISTEN connection is down): the hub hears nothing.
    monkeypatch.setattr(views, "RECHECK_SECONDS", 0.05)
    monkeypatch.setattr(lro.settings, "max_wait_seconds", 3600)
    lro.hub.stop()
    job_id = (await submit(client))["job_id"]
    etag = (await client.get(f"{PREFIX}/jobs/{job_id}")).headers["etag"]
    poll = asyncio.create_task(
        client.get(f"{PREFIX}/jobs/{job_id}?wait=3600", headers={"If-None-Match": etag})
    )
    await asyncio.sleep(0.05)
    await claim(lro)
    # Bounded far above the 0.05 s re-check; without it the request would hang for an hour.
    r = await asyncio.wait_for(poll, 10)
    assert r.status_code == 200
    assert r.json()["status"] == "processing"


async def test_long_poll_times_out_unchanged(client: httpx.AsyncClient, lro: LRO) -> None:
    job_id = (await submit(client))["job_id"]
    etag = (await client.get(f"{PREFIX}/jobs/{job_id}")).headers["etag"]
    r = await client.get(f"{PREFIX}/jobs/{job_id}?wait=0.1", headers={"If-None-Match": etag})
    assert r.status_code == 304
    r = await client.get(f"{PREFIX}/jobs/{job_id}?wait=0.1")
    assert r.status_code == 200 and r.headers["etag"] == etag


async def test_long_poll_on_a_terminal_job_returns_at_once(
    client: httpx.AsyncClient, lro: LRO
) -> None:
    job_id = (await submit(client))["job_id"]
    await complete(lro, await claim(lro))
    r = await client.get(f"{PREFIX}/jobs/{job_id}?wait=30")
    assert r.status_code == 200 and r.json()["status"] == "completed"


async def test_params_route_gives_the_params_as_stored(client: httpx.AsyncClient, lro: LRO) -> None:
    """The poll leaves params out; /params has them, as validated by the operation's
    model (defaults filled in), and the poll still does not carry them."""
    job_id = (await submit(client, "hello <b>world</b>"))["job_id"]
    r = await client.get(f"{PREFIX}/jobs/{job_id}/params")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "job_id": job_id,
        "operation": "echo",
        "params": {"text": "hello <b>world</b>", "count": 1},
    }
    assert "params" not in (await client.get(f"{PREFIX}/jobs/{job_id}")).json()
    stored = await lro.store.get_job(job_id)
    assert stored is not None and stored.params == r.json()["params"]


async def test_malformed_wait_is_400(client: httpx.AsyncClient) -> None:
    job_id = (await submit(client))["job_id"]
    for value in ("soon", "-1", "nan", "inf", ""):
        r = await client.get(f"{PREFIX}/jobs/{job_id}", params={"wait": value})
        body = assert_problem(r, 400)
        assert body["errors"]


async def test_unknown_and_foreign_jobs_are_404(client: httpx.AsyncClient, lro: LRO) -> None:
    foreign = await lro.submit("echo", {"text": "a"}, owner="alice")
    for job_id in ("nope", "00000000-0000-4000-8000-000000000000", foreign.id):
        for method, path in (
            ("GET", ""),
            ("GET", "/result"),
            ("GET", "/params"),
            ("POST", "/cancel"),
            ("DELETE", ""),
        ):
            r = await client.request(method, f"{PREFIX}/jobs/{job_id}{path}")
            assert_problem(r, 404)
    assert (await lro.store.get_job(foreign.id)) is not None


async def test_expired_job_is_410(client: httpx.AsyncClient, lro: LRO) -> None:
    job_id = (await submit(client))["job_id"]
    await complete(lro, await claim(lro), {"x": 1}, retention=0.000001)
    for method, path in (("GET", ""), ("GET", "/result"), ("GET", "/params"), ("POST", "/cancel")):
        body = assert_problem(await client.request(method, f"{PREFIX}/jobs/{job_id}{path}"), 410)
        assert body["expired_at"].endswith("Z")
        assert body["expired_at"][:19] in body["detail"]
    listed = (await client.get(f"{PREFIX}/jobs")).json()
    assert listed["items"] == []


async def test_swept_job_answers_410_from_its_tombstone(
    client: httpx.AsyncClient, lro: LRO
) -> None:
    job_id = (await submit(client))["job_id"]
    await complete(lro, await claim(lro), retention=0.000001)
    swept = await lro.store.sweep(
        SweepParams(now=utcnow() + timedelta(seconds=1), batch_size=10, tombstone_seconds=3600)
    )
    assert swept.job_ids == [job_id]
    assert await lro.store.get_job(job_id) is None
    body = assert_problem(await client.get(f"{PREFIX}/jobs/{job_id}"), 410)
    assert "expired_at" in body


async def test_cancel_queued_processing_and_terminal(client: httpx.AsyncClient, lro: LRO) -> None:
    queued = (await submit(client, "q"))["job_id"]
    r = await client.post(f"{PREFIX}/jobs/{queued}/cancel")
    assert r.status_code == 202
    assert r.json()["status"] == "cancelled"

    running = (await submit(client, "p"))["job_id"]
    await claim(lro)
    r = await client.post(f"{PREFIX}/jobs/{running}/cancel")
    assert r.status_code == 202
    body = r.json()
    assert body["status"] == "processing" and body["cancel_requested"] is True
    assert int(r.headers["retry-after"]) >= 1

    body = assert_problem(await client.post(f"{PREFIX}/jobs/{queued}/cancel"), 409)
    assert body["job_status"] == "cancelled"


async def test_delete_only_terminal_then_404(client: httpx.AsyncClient, lro: LRO) -> None:
    job_id = (await submit(client))["job_id"]
    body = assert_problem(await client.delete(f"{PREFIX}/jobs/{job_id}"), 409)
    assert body["job_status"] == "queued"
    job = await claim(lro)
    assert_problem(await client.delete(f"{PREFIX}/jobs/{job_id}"), 409)
    ref = await lro.result_store.put_bytes(lease(job), b"a,b\n", "text/csv", "out.csv")
    await complete(lro, job, result_ref=ref)
    path = lro.result_store.local_path(ref)
    assert path.exists()
    r = await client.delete(f"{PREFIX}/jobs/{job_id}")
    assert r.status_code == 204 and r.content == b""
    assert not path.exists()
    assert_problem(await client.get(f"{PREFIX}/jobs/{job_id}"), 404)
    assert_problem(await client.delete(f"{PREFIX}/jobs/{job_id}"), 404)


async def test_list_pagination_and_filters(client: httpx.AsyncClient, lro: LRO) -> None:
    ids = [(await submit(client, str(i)))["job_id"] for i in range(5)]
    await lro.submit("ping")
    await lro.submit("echo", {"text": "theirs"}, owner="alice")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "operation": "echo"}
        if cursor:
            params["cursor"] = cursor
        r = await client.get(f"{PREFIX}/jobs", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [item["job_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))

    first = await claim(lro)
    await client.post(f"{PREFIX}/jobs/{ids[1]}/cancel")
    r = await client.get(f"{PREFIX}/jobs", params={"status": "processing,cancelled"})
    got = {item["job_id"]: item["status"] for item in r.json()["items"]}
    assert got == {first.id: "processing", ids[1]: "cancelled"}
    r = await client.get(f"{PREFIX}/jobs", params={"operation": "ping"})
    assert [item["operation"] for item in r.json()["items"]] == ["ping"]


async def test_list_rejects_bad_parameters(client: httpx.AsyncClient) -> None:
    for params in (
        {"status": "done"},
        {"status": "queued,nope"},
        {"limit": "0"},
        {"limit": "1000"},
        {"limit": "ten"},
        {"cursor": "not-a-cursor!"},
    ):
        r = await client.get(f"{PREFIX}/jobs", params=params)
        assert_problem(r, 400)


async def test_bad_requests_change_nothing(client: httpx.AsyncClient, lro: LRO) -> None:
    job_id = (await submit(client))["job_id"]
    before = await lro.store.get_job(job_id)
    await client.get(f"{PREFIX}/jobs/{job_id}?wait=x")
    await client.delete(f"{PREFIX}/jobs/{job_id}")
    await client.post(f"{PREFIX}/jobs/{job_id}/result")
    after = await lro.store.get_job(job_id)
    assert before is not None and after is not None
    assert after.version == before.version and after.status is Status.QUEUED
    assert await count_jobs(lro) == 1
