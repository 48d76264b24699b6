"""GET /api/v1/jobs/{id}/events through a real server and a real SSE client (httpx-sse):
the current state first, every change after it in order, resumption from Last-Event-ID
with nothing lost or repeated, heartbeats, the close after the terminal event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse
from tests.api.helpers import (
    PREFIX,
    assert_problem,
    claim,
    complete,
    fail,
    make_lro,
    progress,
)
from tests.stream.conftest import Served

from lro.models import utcnow

EVENT_TIMEOUT = 10.0


async def submit(client: httpx.AsyncClient, text: str = "hi") -> str:
    r = await client.post(f"{PREFIX}/echo", json={"text": text})
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    return job_id


class Stream:
    """An open event stream whose events are read one at a time, each bounded in time.

    httpx-sse dispatches an empty event for a heartbeat comment once the stream has had an
    id (the spec says not to dispatch an event without data); those are skipped here.
    """

    def __init__(self, events: AsyncIterator[ServerSentEvent], response: httpx.Response) -> None:
        self._events = (e async for e in events if e.data)
        self.response = response

    async def next(self) -> ServerSentEvent:
        return await asyncio.wait_for(anext(self._events), EVENT_TIMEOUT)

    async def rest(self, timeout: float = EVENT_TIMEOUT) -> list[ServerSentEvent]:
        """Everything until the server closes the stream."""

        async def drain() -> list[ServerSentEvent]:
            return [e async for e in self._events]

        return await asyncio.wait_for(drain(), timeout)


async def open_stream(
    client: httpx.AsyncClient, job_id: str, last_event_id: str | None = None
) -> AsyncIterator[Stream]:
    headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
    async with aconnect_sse(
        client, "GET", f"{PREFIX}/jobs/{job_id}/events", headers=headers
    ) as source:
        source.response.raise_for_status()
        yield Stream(source.aiter_sse(), source.response)


def data(event: ServerSentEvent) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(event.data)
    return body


@pytest.fixture
async def client(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, timeout=EVENT_TIMEOUT) as c:
        yield c


async def test_current_state_first_then_every_change_then_close(
    served: Served, client: httpx.AsyncClient
) -> None:
    job_id = await submit(client)
    async for stream in open_stream(client, job_id):
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert stream.response.headers["cache-control"] == "no-cache"
        assert stream.response.headers["x-accel-buffering"] == "no"
        first = await stream.next()
        assert (first.id, first.event, data(first)["status"]) == ("1", "status", "queued")

        job = await claim(served.lro)
        started = await stream.next()
        assert (started.id, started.event) == ("2", "status")
        assert data(started)["status"] == "processing"
        assert data(started)["attempt"] == 1

        await progress(served.lro, job, 40, "halfway there")
        moved = await stream.next()
        assert (moved.id, moved.event) == ("3", "progress")
        assert (data(moved)["progress_pct"], data(moved)["step"]) == (40, "halfway there")

        await complete(served.lro, job, {"text": "hi"})
        rest = await stream.rest()
        assert [(e.id, e.event) for e in rest] == [("4", "completed")]
        final = data(rest[0])
        assert final["status"] == "completed"
        assert final["progress_pct"] == 100
        assert final["result"] == {"text": "hi"}
        assert final["result_url"] == f"{PREFIX}/jobs/{job_id}/result"


async def _finished_job(served: Served, client: httpx.AsyncClient) -> str:
    """A job whose log is: 1 queued, 2 processing, 3-5 progress, 6 completed."""
    job_id = await submit(client)
    job = await claim(served.lro)
    for pct in (10, 50, 90):
        await progress(served.lro, job, pct, f"at {pct}")
    await complete(served.lro, job, {"ok": True})
    return job_id


async def test_resume_from_a_mid_stream_id_replays_the_rest_exactly(
    served: Served, client: httpx.AsyncClient
) -> None:
    job_id = await _finished_job(served, client)
    async for stream in open_stream(client, job_id, last_event_id="3"):
        events = await stream.rest()
    assert [(e.id, e.event) for e in events] == [
        ("4", "progress"),
        ("5", "progress"),
        ("6", "completed"),
    ]
    replayed = data(events[0])
    # An earlier event shows the job as it was then, not its final fields.
    assert (replayed["status"], replayed["progress_pct"], replayed["step"]) == (
        "processing",
        50,
        "at 50",
    )
    assert replayed["result_url"] is None and replayed["finished_at"] is None
    assert data(events[-1])["result"] == {"ok": True}


async def test_resume_while_live_gets_the_gap_then_live_changes(
    served: Served, client: httpx.AsyncClient
) -> None:
    job_id = await submit(client)
    job = await claim(served.lro)
    await progress(served.lro, job, 20)
    async for stream in open_stream(client, job_id, last_event_id="1"):
        gap = [await stream.next(), await stream.next()]
        assert [(e.id, e.event) for e in gap] == [("2", "status"), ("3", "progress")]
        await progress(served.lro, job, 60)
        live = await stream.next()
        assert (live.id, data(live)["progress_pct"]) == ("4", 60)
        await fail(served.lro, job)
        rest = await stream.rest()
        assert [(e.id, e.event) for e in rest] == [("5", "failed")]
        assert data(rest[0])["error"]["code"] == "bad_input"


async def test_finished_job_gets_its_terminal_event_and_the_close(
    served: Served, client: httpx.AsyncClient
) -> None:
    job_id = await _finished_job(served, client)
    async for stream in open_stream(client, job_id):
        events = await stream.rest()
    assert [(e.id, e.event) for e in events] == [("6", "completed")]


async def test_a_client_that_has_the_terminal_event_is_told_to_stop(
    served: Served, client: httpx.AsyncClient
) -> None:
    job_id = await _finished_job(served, client)
    r = await client.get(f"{PREFIX}/jobs/{job_id}/events", headers={"Last-Event-ID": "6"})
    # 204 is what makes a browser EventSource stop reconnecting.
    assert r.status_code == 204
    assert r.content == b""


@pytest.mark.parametrize("bad", ["abc", "-1", "2.5", "", "99999999999999999999", "1000"])
async def test_a_malformed_or_unknown_last_event_id_is_treated_as_absent(
    served: Served, client: httpx.AsyncClient, bad: str
) -> None:
    job_id = await submit(client)
    async for stream in open_stream(client, job_id, last_event_id=bad):
        first = await stream.next()
        assert (first.id, data(first)["status"]) == ("1", "queued")


async def test_cancel_of_a_queued_job_ends_the_stream(
    served: Served, client: httpx.AsyncClient
) -> None:
    job_id = await submit(client)
    async for stream in open_stream(client, job_id):
        await stream.next()
        r = await client.post(f"{PREFIX}/jobs/{job_id}/cancel")
        assert r.status_code == 202
        rest = await stream.rest()
        assert [(e.id, e.event) for e in rest] == [("2", "cancelled")]
        assert data(rest[0])["status"] == "cancelled"


async def test_heartbeat_comments_keep_an_idle_stream_alive(
    served_fast_heartbeat: Served,
) -> None:
    async with httpx.AsyncClient(base_url=served_fast_heartbeat.url, timeout=10) as client:
        job_id = await submit(client)
        lines: list[str] = []
        async with client.stream("GET", f"{PREFIX}/jobs/{job_id}/events") as r:

            async def read_until_two_pings() -> None:
                async for line in r.aiter_lines():
                    lines.append(line)
                    if sum(1 for x in lines if x.startswith(":")) >= 2:
                        return

            await asyncio.wait_for(read_until_two_pings(), EVENT_TIMEOUT)
    assert lines[0] == "id: 1"
    assert sum(1 for x in lines if x.startswith(":")) >= 2


async def test_unknown_job_is_a_problem_not_a_stream(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{PREFIX}/jobs/00000000-0000-4000-8000-000000000000/events")
    assert_problem(r, 404)


async def test_expired_job_is_gone(served: Served, client: httpx.AsyncClient) -> None:
    job_id = await submit(client)
    job = await claim(served.lro)
    await complete(served.lro, job, retention=0.001)
    await asyncio.sleep(0.01)  # let the retention of 1 ms pass; expiry is by the clock
    assert utcnow() > (await served.lro.store.get_job(job_id)).expires_at  # type: ignore[union-attr,operator]
    r = await client.get(f"{PREFIX}/jobs/{job_id}/events")
    assert_problem(r, 410)


async def test_changes_made_by_another_process_reach_the_stream(
    served: Served, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A second LRO on the same store stands in for a worker process elsewhere: its changes
    arrive through the store's notifications (LISTEN/NOTIFY, or SQLite's event poll)."""
    other = make_lro(tmp_path / "other", store_url=served.lro.settings.store_url)
    await other.start()
    try:
        job_id = await submit(client)
        async for stream in open_stream(client, job_id):
            assert (await stream.next()).id == "1"
            job = await claim(other)
            assert (await stream.next()).id == "2"
            await progress(other, job, 70, "nearly")
            moved = await stream.next()
            assert (moved.id, data(moved)["step"]) == ("3", "nearly")
            await complete(other, job, "done")
            assert [(e.id, e.event) for e in await stream.rest()] == [("4", "completed")]
    finally:
        await other.stop()


async def test_500_concurrent_streams_on_one_process_each_see_every_event(
    served: Served, tmp_path: Path
) -> None:
    """50 jobs, 10 watchers each: every stream gets the same complete, ordered log."""
    limits = httpx.Limits(max_connections=600, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=served.url, timeout=60, limits=limits) as client:
        job_ids = [await submit(client, f"job{i}") for i in range(50)]

        async def watch(job_id: str, opened: asyncio.Event) -> list[tuple[str, str, float]]:
            seen: list[tuple[str, str, float]] = []
            async for stream in open_stream(client, job_id):
                first = await stream.next()
                seen.append((first.id, first.event, data(first)["progress_pct"]))
                opened.set()
                for event in await stream.rest(timeout=90):
                    seen.append((event.id, event.event, data(event)["progress_pct"]))
            return seen

        opened = [asyncio.Event() for _ in range(500)]
        watchers = [asyncio.create_task(watch(job_ids[i % 50], opened[i])) for i in range(500)]
        await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 60)
        jobs = {j.id: j for j in [await claim(served.lro) for _ in range(50)]}
        for pct in (25, 50, 75):
            for job in jobs.values():
                await progress(served.lro, job, pct)
        for job in jobs.values():
            await complete(served.lro, job, None)
        results = await asyncio.wait_for(asyncio.gather(*watchers), 120)
    expected = [
        ("1", "status", 0),
        ("2", "status", 0),
        ("3", "progress", 25),
        ("4", "progress", 50),
        ("5", "progress", 75),
        ("6", "completed", 100),
    ]
    assert all(seen == expected for seen in results), [s for s in results if s != expected][:3]
    assert len(served.lro.hub.feeds) == 0  # every subscription was released
