"""The client's long-job calls against a real server (HTTP-CONTRACT §14), with Client and
AsyncClient: retry() of a failed job, iter_partials() following a job as it makes its
partial results, wait(on_partial=) delivering every partial once, in order."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.client.conftest import AnyClient
from tests.client.faultproxy import FaultProxy, Reply
from tests.client.helpers import each, run
from tests.client.server import new_gate

from lro.client import AsyncClient, Conflict, NotFound, Partial


async def test_retry_runs_a_failed_job_again_under_its_id(client: AnyClient) -> None:
    job = await run(client.submit("second_time", {}))
    failed = await run(client.wait(job.job_id, timeout=20))
    assert failed.status == "failed" and failed.attempt == 1
    retried = await run(client.retry(job.job_id))
    assert retried.job_id == job.job_id and retried.status in ("queued", "processing")
    assert retried.error is None and retried.max_attempts == 2
    done = await run(client.wait(job.job_id, timeout=20))
    assert (done.status, done.result, done.attempt) == ("completed", 2, 2)
    with pytest.raises(Conflict) as info:
        await run(client.retry(job.job_id))
    assert info.value.job_status == "completed"
    with pytest.raises(NotFound):
        await run(client.retry("00000000-0000-4000-8000-000000000000"))


async def test_iter_partials_follows_the_job_as_it_makes_them(client: AnyClient) -> None:
    gate, opened = new_gate()
    job = await run(client.submit("rows", {"rows": 6, "gate": gate}))
    got: list[Partial] = []
    async for partial in each(client.iter_partials(job.job_id)):
        got.append(partial)
        if len(got) == 3:
            opened.set()  # the second half is made only after we have seen the first
    assert [(p.seq, p.data) for p in got] == [(n + 1, {"row": n}) for n in range(6)]
    # From a given seq on, once the job has ended.
    later = [p.seq async for p in each(client.iter_partials(job.job_id, after=4))]
    assert later == [5, 6]


async def test_wait_on_partial_delivers_each_partial_once_in_order(client: AnyClient) -> None:
    job = await run(client.submit("rows", {"rows": 30}))
    await run(client.wait(job.job_id, timeout=20))  # all made before the wait below
    seen: list[Partial] = []

    async def record_async(p: Partial) -> None:
        seen.append(p)

    on_partial = record_async if isinstance(client, AsyncClient) else seen.append
    done = await run(client.wait(job.job_id, on_partial=on_partial, timeout=20))
    assert done.status == "completed" and done.result == 30
    assert [p.data for p in seen] == [{"row": n} for n in range(30)]


async def test_wait_on_partial_polls_partials_when_the_stream_is_unavailable(
    make_client: Callable[..., AnyClient], proxy: FaultProxy
) -> None:
    client = make_client(proxy.url)
    proxy.add("/events", Reply(500), times=None)
    gate, opened = new_gate()
    seen: list[Partial] = []

    def record(p: Partial) -> None:
        seen.append(p)
        if len(seen) == 3:
            opened.set()  # the second half is made after the first was read by polling

    async def record_async(p: Partial) -> None:
        record(p)

    on_partial = record_async if isinstance(client, AsyncClient) else record
    job = await run(client.submit("rows", {"rows": 6, "gate": gate}))
    done = await run(client.wait(job.job_id, on_partial=on_partial, timeout=30))
    assert done.status == "completed"
    assert [(p.seq, p.data) for p in seen] == [(n + 1, {"row": n}) for n in range(6)]
    assert all(p.created_at is not None for p in seen)  # read from /partials
    assert proxy.requests(f"GET /api/v1/jobs/{job.job_id}/partials")
