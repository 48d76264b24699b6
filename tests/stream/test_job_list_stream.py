"""GET /api/v1/jobs/events, the live job list, through a real server on every backend:
`sync` first, then the latest state of each job the list shows, changed by this process
or by another store on the same database; another principal's jobs never; the filters
of GET /jobs hold."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse
from tests.api.helpers import PREFIX, assert_problem, claim, complete, make_lro, progress
from tests.stream.conftest import Served, serve
from tests.support.postgres import fresh_database

from lro import LRO
from lro.store.capabilities import has_flows

EVENT_TIMEOUT = 10.0
KEYS = "alice:key-a,bob:key-b,admin:key-z"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    """The API with three principals (alice, bob and the admin) on a real server."""
    if request.param == "sqlite":
        async for s in serve(make_lro(tmp_path, api_keys=KEYS)):
            yield s
        return
    if request.param == "postgres":
        async with fresh_database() as url:
            async for s in serve(make_lro(tmp_path, store_url=url, api_keys=KEYS)):
                yield s
        return
    from tests.support.redis import fresh_database as fresh_redis

    async with fresh_redis() as url:
        async for s in serve(make_lro(tmp_path, store_url=url, api_keys=KEYS)):
            yield s


@pytest.fixture
async def other(served: Served, tmp_path: Path) -> AsyncIterator[LRO]:
    """A second LRO on the same store: a worker process elsewhere, with its own
    connections, whose changes reach the server only through the store's feed."""
    lro = make_lro(tmp_path / "other", store_url=served.lro.settings.store_url, api_keys=KEYS)
    await lro.start()
    try:
        yield lro
    finally:
        await lro.stop()


def client_of(served: Served, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=served.url, timeout=EVENT_TIMEOUT, headers={"Authorization": f"Bearer {key}"}
    )


async def submit(client: httpx.AsyncClient, text: str, **extra: Any) -> str:
    r = await client.post(f"{PREFIX}/echo", json={"text": text, **extra})
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    return job_id


class ListStream:
    """An open live list, read one event at a time, each bounded in time."""

    def __init__(self, events: AsyncIterator[ServerSentEvent]) -> None:
        self._events = (e async for e in events if e.data)

    async def next(self) -> tuple[str, dict[str, Any]]:
        event = await asyncio.wait_for(anext(self._events), EVENT_TIMEOUT)
        body: dict[str, Any] = json.loads(event.data)
        return event.event, body

    async def until(self, job_id: str, **want: Any) -> list[tuple[str, dict[str, Any]]]:
        """Every event up to the first `job` event of `job_id` with the fields `want`."""
        seen: list[tuple[str, dict[str, Any]]] = []
        while True:
            name, body = await self.next()
            seen.append((name, body))
            if (
                name == "job"
                and body["job_id"] == job_id
                and all(body.get(k) == v for k, v in want.items())
            ):
                return seen


async def open_list(client: httpx.AsyncClient, query: str = "") -> AsyncIterator[ListStream]:
    async with aconnect_sse(client, "GET", f"{PREFIX}/jobs/events{query}") as source:
        assert source.response.status_code == 200, await source.response.aread()
        assert source.response.headers["content-type"].startswith("text/event-stream")
        assert source.response.headers["cache-control"] == "no-cache"
        stream = ListStream(source.aiter_sse())
        assert await stream.next() == ("sync", {"reason": "connected"})
        yield stream


def job_ids(events: list[tuple[str, dict[str, Any]]]) -> set[str]:
    return {body["job_id"] for _, body in events}


async def test_a_change_made_by_another_store_arrives_as_the_jobs_latest_state(
    served: Served, other: LRO
) -> None:
    async with client_of(served, "key-a") as alice:
        async for stream in open_list(alice):
            job_id = await submit(alice, "hello")
            seen = await stream.until(job_id, status="queued")
            assert seen[-1][1]["poll_url"] == f"{PREFIX}/jobs/{job_id}"
            assert "owner" not in seen[-1][1]  # only an admin's list names owners
            job = await claim(other)
            await progress(other, job, 70, "nearly")
            moved = await stream.until(job_id, progress_pct=70)
            assert moved[-1][1]["step"] == "nearly"
            assert moved[-1][1]["status"] == "processing"
            await complete(other, job, {"text": "hello"})
            done = await stream.until(job_id, status="completed")
            assert done[-1][1]["result"] == {"text": "hello"}
            assert done[-1][1]["result_url"] == f"{PREFIX}/jobs/{job_id}/result"


async def test_another_principals_jobs_never_arrive_and_the_admin_sees_both(
    served: Served, other: LRO
) -> None:
    async with (
        client_of(served, "key-a") as alice,
        client_of(served, "key-b") as bob,
        client_of(served, "key-z") as admin,
    ):
        async for alice_list in open_list(alice):
            async for admin_list in open_list(admin):
                bobs = await submit(bob, "bob's")
                job = await claim(other)
                await progress(other, job, 50, "bob at work")
                await complete(other, job, "done")
                alices = await submit(alice, "alice's")  # committed after all of bob's
                seen = await alice_list.until(alices, status="queued")
                assert job_ids(seen) == {alices}
                everyone = await admin_list.until(alices, status="queued")
                assert bobs in job_ids(everyone)
                assert {b["owner"] for name, b in everyone if name == "job"} == {"alice", "bob"}


async def test_the_status_and_operation_filters_hold_and_a_job_leaving_them_is_removed(
    served: Served, other: LRO
) -> None:
    async with client_of(served, "key-a") as alice:
        async for stream in open_list(alice, "?status=processing&operation=echo"):
            first = await submit(alice, "first")
            r = await alice.post(f"{PREFIX}/jobs", json={"operation": "ping", "params": {}})
            assert r.status_code == 202, r.text
            ping_id = r.json()["job_id"]
            job = await claim(other)  # the echo job, submitted first
            assert job.id == first
            pinged = await claim(other)
            assert pinged.id == ping_id
            await progress(other, pinged, 40, "ping at work")
            await progress(other, job, 30, "echo at work")
            seen = await stream.until(first, progress_pct=30)
            assert job_ids(seen) == {first}
            assert all(body["status"] == "processing" for _, body in seen)
            await complete(other, job, "done")
            name, body = await stream.next()
            while name == "job":  # the echo job's latest processing state, coalesced or not
                assert body["job_id"] == first
                name, body = await stream.next()
            assert (name, body) == ("removed", {"job_id": first})


async def test_the_tag_and_text_filters_hold(served: Served, other: LRO) -> None:
    if not has_flows(served.lro.store):  # Redis keeps no searchable tags: 501 (§19)
        async with client_of(served, "key-a") as alice:
            assert_problem(await alice.get(f"{PREFIX}/jobs/events?tag=red"), 501)
        return
    async with client_of(served, "key-a") as alice:
        async for stream in open_list(alice, "?tag=red&q=WANTED"):
            blue = await submit(alice, "blue", tags=["blue"])
            red = await submit(alice, "red", tags=["red", "x"])
            job = await claim(other)
            assert job.id == blue
            await progress(other, job, 10, "wanted but blue")
            job = await claim(other)
            await progress(other, job, 20, "not this step")
            await progress(other, job, 30, "the wanted step")
            seen = await stream.until(red, progress_pct=30)
            assert job_ids(seen) == {red}
            assert all("wanted" in body["step"] for name, body in seen if name == "job")


async def test_bad_filters_are_problems_and_no_key_is_401(served: Served) -> None:
    async with client_of(served, "key-a") as alice:
        body = assert_problem(await alice.get(f"{PREFIX}/jobs/events?status=sleeping"), 400)
        assert body["errors"][0]["pointer"] == "status"
        # A store without flows refuses a creation-time filter before reading it (501).
        refused = 400 if has_flows(served.lro.store) else 501
        assert_problem(await alice.get(f"{PREFIX}/jobs/events?created_after=yesterday"), refused)
    async with httpx.AsyncClient(base_url=served.url, timeout=EVENT_TIMEOUT) as nobody:
        assert_problem(await nobody.get(f"{PREFIX}/jobs/events"), 401)


async def test_a_key_taken_away_ends_the_stream(served: Served) -> None:
    """A list stays open for hours: a key removed from LRO_API_KEYS must stop it."""
    settings = served.lro.settings
    original = settings.api_keys
    async with client_of(served, "key-a") as alice:
        async for stream in open_list(alice):
            settings.api_keys = "bob:key-b,admin:key-z"
            try:
                with pytest.raises(StopAsyncIteration):
                    await stream.next()  # the server ends it at its next wake-up
                assert_problem(await alice.get(f"{PREFIX}/jobs/events"), 401)
            finally:
                settings.api_keys = original


async def test_a_deleted_job_is_removed_from_the_list(served: Served, other: LRO) -> None:
    async with client_of(served, "key-a") as alice:
        async for stream in open_list(alice):
            job_id = await submit(alice, "short-lived")
            job = await claim(other)
            await complete(other, job, "done")
            await stream.until(job_id, status="completed")
            r = await alice.delete(f"{PREFIX}/jobs/{job_id}")
            assert r.status_code == 204, r.text
            assert await stream.next() == ("removed", {"job_id": job_id})
