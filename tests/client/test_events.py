"""events() and wait() against the real SSE route, through a proxy that breaks or refuses
the stream: resumption with Last-Event-ID, the polling fallback, WaitTimeout."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from tests.client.conftest import AnyClient
from tests.client.faultproxy import Cut, DropAnswer, FaultProxy, Reply, Trickle
from tests.client.helpers import each, items, run, until_status
from tests.client.server import new_gate

from lro.client import JobEvent, JobResource, NotFound, TransportFailure, WaitTimeout

MakeClient = Callable[..., AnyClient]


async def _follow(client: AnyClient, job_id: str, on_first: Callable[[], None]) -> list[JobEvent]:
    """All events of the job; `on_first` runs once the first one has arrived."""
    events: list[JobEvent] = []
    async for event in each(client.events(job_id)):
        events.append(event)
        if len(events) == 1:
            on_first()
    return events


async def test_events_from_the_current_state_to_the_end(client: AnyClient) -> None:
    gate, opened = new_gate()
    job = await run(client.submit("count", {"steps": 3, "gate": gate}))
    events = await _follow(client, job.job_id, opened.set)

    ids = [e.id for e in events]
    assert ids == sorted(set(ids))
    assert events[-1].event == "completed"
    assert events[-1].job.status == "completed"
    assert all(not e.job.is_terminal for e in events[:-1])
    assert {e.event for e in events[1:-1]} <= {"status", "progress"}

    # Resuming after an id sends only what came later; after the end, nothing.
    later: list[JobEvent] = await items(client.events(job.job_id, last_event_id=ids[0]))
    assert [e.id for e in later] == ids[1:]
    assert await items(client.events(job.job_id, last_event_id=ids[-1])) == []


async def test_a_broken_stream_is_resumed_without_loss_or_repeat(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url)
    gate, opened = new_gate()
    job = await run(client.submit("count", {"steps": 3, "gate": gate}))
    # Cut the first connection in the middle of its second event.
    proxy.add("/events", Cut(b"event:", occurrence=2))

    events = await _follow(client, job.job_id, opened.set)

    ids = [e.id for e in events]
    assert ids == sorted(set(ids))
    assert events[-1].job.status == "completed"
    first, second, *_ = proxy.requests("/events")
    assert "last-event-id" not in first.headers
    assert second.headers["last-event-id"] == str(ids[0])
    direct: list[JobEvent] = await items(client.events(job.job_id, last_event_id=ids[0]))
    assert [e.id for e in direct] == ids[1:]


@pytest.mark.parametrize(
    ("kind", "fault"),
    [
        ("sync", Reply(404)),
        ("async", Reply(500)),
        ("sync", Reply(200, {"Content-Type": "text/html"}, b"<html>hello</html>")),
        ("async", DropAnswer()),
    ],
    indirect=["kind"],
    ids=["404-sync", "500-async", "html-sync", "dropped-async"],
)
async def test_wait_polls_when_the_stream_is_unavailable(
    make_client: MakeClient, proxy: FaultProxy, fault: Reply | DropAnswer
) -> None:
    client = make_client(proxy.url)
    proxy.add("/events", fault, times=None)
    gate, opened = new_gate()
    seen: list[JobResource] = []

    def record(job: JobResource) -> None:
        seen.append(job)
        if job.progress_pct > 0:
            opened.set()

    job = await run(client.submit("count", {"steps": 2, "gate": gate}))
    done = await run(client.wait(job.job_id, on_progress=record, timeout=30))

    assert done.status == "completed"
    assert seen[-1] == done
    assert any(not j.is_terminal for j in seen)  # it really followed the job on its way
    polls = proxy.requests(f"GET /api/v1/jobs/{job.job_id}")
    assert len([p for p in polls if not p.path.endswith("/events")]) >= 2
    assert any(p.headers.get("if-none-match") for p in polls)


async def test_wait_timeout_while_streaming(client: AnyClient) -> None:
    job = await run(client.submit("linger"))
    with pytest.raises(WaitTimeout) as info:
        await run(client.wait(job.job_id, timeout=0.3))
    assert isinstance(info.value, TimeoutError)
    assert info.value.job_id == job.job_id
    assert info.value.last is not None and not info.value.last.is_terminal
    await run(client.cancel(job.job_id))
    assert (await run(client.wait(job.job_id, timeout=20))).status == "cancelled"


def _cutoff_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lro-client-cutoff"]


def _busy_connections(client: AnyClient) -> list[object]:
    """Connections of the client's pool that are not idle (one still reading a stream)."""
    pool = client._http._transport._pool  # type: ignore[union-attr]
    return [c for c in pool.connections if not c.is_idle()]


@pytest.mark.parametrize("operation", ["tick", "linger"])
async def test_wait_timeout_holds_while_the_stream_keeps_talking(
    client: AnyClient, operation: str
) -> None:
    """`tick` sends a progress event every 50 ms, `linger` none, but the server's heartbeat
    comes every second: either way bytes arrive far more often than the 2 s timeout, which
    only an overall deadline can enforce (a read timeout would restart with each)."""
    job = await run(client.submit(operation))
    await until_status(client, job.job_id, "processing")
    seen: list[JobResource] = []

    with pytest.raises(WaitTimeout) as info:
        await run(client.wait(job.job_id, on_progress=seen.append, timeout=2))

    last = info.value.last
    assert last is not None and last.status == "processing" and last.job_id == job.job_id
    assert (await run(client.get(job.job_id))).status == "processing"  # it goes on
    if operation == "tick":
        assert len({j.progress_pct for j in seen}) >= 3  # the stream was busy all along
        assert seen[-1] == last
    assert _cutoff_threads() == []
    assert _busy_connections(client) == []
    await run(client.cancel(job.job_id))
    assert (await run(client.wait(job.job_id, timeout=20))).status == "cancelled"


async def test_wait_timeout_cuts_a_read_that_never_ends(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    """A stream that sends one event, then a byte at a time of a line that never ends:
    every read returns data (so no read timeout fires) but no event completes. The wait
    ends only because the read itself is cut at the deadline."""
    client = make_client(proxy.url)
    job = await run(client.submit("linger"))
    state = JobResource(job_id=job.job_id, status="processing", progress_pct=7)
    prelude = f"id: 1\nevent: status\ndata: {state.model_dump_json()}\n\n".encode()
    proxy.add("/events", Trickle(prelude), times=None)

    with pytest.raises(WaitTimeout) as info:
        await run(client.wait(job.job_id, timeout=1))

    assert info.value.last == state
    assert len(proxy.requests("/events")) == 1  # cut, not given up and polled
    assert _cutoff_threads() == []
    assert _busy_connections(client) == []
    await run(client.cancel(job.job_id))


async def test_wait_timeout_while_polling(make_client: MakeClient, proxy: FaultProxy) -> None:
    client = make_client(proxy.url)
    proxy.add("/events", Reply(404), times=None)
    job = await run(client.submit("linger", delay=3600))
    with pytest.raises(WaitTimeout) as info:
        await run(client.wait(job.job_id, timeout=0.3))
    assert info.value.last is not None and info.value.last.status == "queued"
    await run(client.cancel(job.job_id))


async def test_events_raise_what_the_route_answers(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url, max_retries=2)
    job = await run(client.submit("count", {"steps": 1, "pause": 0}, wait=10))
    proxy.add("/events", Reply(404), times=1)
    with pytest.raises(NotFound):
        await items(client.events(job.job_id))

    proxy.add("/events", DropAnswer(), times=None)
    with pytest.raises(TransportFailure):
        await items(client.events(job.job_id))
    assert len(proxy.requests("/events")) == 1 + 3  # the 404, then 1 try + 2 retries
