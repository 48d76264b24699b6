"""Partial results over SSE (HTTP-CONTRACT §14): `event: partial` with `{"seq", "data"}` in
the job's one event-id sequence, followed live, through a reconnect with Last-Event-ID
(none lost or repeated), and replayed from the start by a late follower, on a real server
on every backend. The worker's part is played through the store's verbs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.api.helpers import PREFIX, claim, complete, lease, make_lro
from tests.stream.conftest import Served, serve
from tests.stream.test_events import EVENT_TIMEOUT, open_stream, submit

from lro.models import utcnow
from lro.store.steps import PartialWrite


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    """The stream tests' server (tests/stream/conftest.py), on every backend with long jobs."""
    if request.param == "sqlite":
        async for s in serve(make_lro(tmp_path)):
            yield s
        return
    if request.param == "postgres":
        from tests.support.postgres import fresh_database
    else:
        from tests.support.redis import fresh_database  # type: ignore[assignment]
    async with fresh_database() as url:
        async for s in serve(make_lro(tmp_path, store_url=url)):
            yield s


@pytest.fixture
async def client(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, timeout=EVENT_TIMEOUT) as c:
        yield c


async def add(served: Served, job: object, *values: object) -> None:
    steps = served.lro.store.steps
    assert steps is not None
    assert await steps.append_partials([PartialWrite(lease(job), values)], utcnow()) == [True]  # type: ignore[arg-type]


async def test_partials_stream_in_the_event_sequence_through_a_reconnect(
    served: Served, client: httpx.AsyncClient
) -> None:
    job_id = await submit(client)
    seen: list[tuple[str, str, object]] = []
    async for stream in open_stream(client, job_id):
        first = await stream.next()
        assert (first.id, first.event) == ("1", "status")
        job = await claim(served.lro)
        assert (await stream.next()).id == "2"
        await add(served, job, {"row": 1}, {"row": 2})
        for _ in range(2):
            e = await stream.next()
            seen.append((e.id, e.event, json.loads(e.data)))
        break  # the client drops the connection here
    assert seen == [
        ("3", "partial", {"seq": 1, "data": {"row": 1}}),
        ("4", "partial", {"seq": 2, "data": {"row": 2}}),
    ]
    # Made while nobody was connected.
    await add(served, job, "three")
    async for stream in open_stream(client, job_id, last_event_id=seen[-1][0]):
        e = await stream.next()
        assert (e.id, e.event, json.loads(e.data)) == ("5", "partial", {"seq": 3, "data": "three"})
        await add(served, job, ["four"])
        e = await stream.next()
        assert (e.id, e.event, json.loads(e.data)) == ("6", "partial", {"seq": 4, "data": ["four"]})
        await complete(served.lro, job, {"rows": 4})
        rest = await stream.rest()
        assert [(e.id, e.event) for e in rest] == [("7", "completed")]

    # A follower that starts from the beginning rebuilds the whole output from SSE alone.
    async for stream in open_stream(client, job_id, last_event_id="0"):
        events = await stream.rest()
    partials = [json.loads(e.data) for e in events if e.event == "partial"]
    assert partials == [
        {"seq": 1, "data": {"row": 1}},
        {"seq": 2, "data": {"row": 2}},
        {"seq": 3, "data": "three"},
        {"seq": 4, "data": ["four"]},
    ]
    assert [(e.id, e.event) for e in events] == [
        ("1", "status"),
        ("2", "status"),
        *[(str(n), "partial") for n in range(3, 7)],
        ("7", "completed"),
    ]
    # Polling gives the same.
    r = await client.get(f"{PREFIX}/jobs/{job_id}/partials")
    assert [i["data"] for i in r.json()["items"]] == [p["data"] for p in partials]
