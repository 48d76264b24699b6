"""The client against a real server: every method once, both clients (the `client`
fixture is parametrised over Client and AsyncClient)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.client.conftest import AnyClient
from tests.client.helpers import items, names, run, until_status
from tests.client.server import blob_bytes, new_gate

from lro.client import (
    AsyncClient,
    Conflict,
    JobPage,
    JobResource,
    NotFound,
    Unprocessable,
)


async def test_submit_then_wait_reports_growing_progress(client: AnyClient) -> None:
    gate, opened = new_gate()
    seen: list[JobResource] = []

    def record(job: JobResource) -> None:
        seen.append(job)
        if job.progress_pct > 0:
            opened.set()  # the job waits at its gate until we have seen it in progress

    async def record_async(job: JobResource) -> None:
        record(job)

    job = await run(client.submit("count", {"steps": 4, "gate": gate}))
    assert job.status in ("queued", "processing")
    assert job.operation == "count"
    on_progress = record_async if isinstance(client, AsyncClient) else record
    done = await run(client.wait(job.job_id, on_progress=on_progress, timeout=20))

    assert done.status == "completed"
    assert done.is_terminal
    assert done.result == {"counted": 4}
    assert done.progress_pct == 100
    progress = [j.progress_pct for j in seen]
    assert progress == sorted(progress)
    assert len(set(progress)) >= 2
    assert seen[-1] == done


async def test_failed_job_is_returned_with_its_error(client: AnyClient) -> None:
    job = await run(client.submit("count", {"fail_at": 2}))
    done = await run(client.wait(job.job_id, timeout=20))
    assert done.status == "failed"
    assert done.error is not None
    assert done.error.code == "count_failed"
    assert done.error.retryable is False
    assert "fail_at=2" in done.error.detail
    with pytest.raises(Conflict) as info:
        await run(client.result(job.job_id))
    assert info.value.job_status == "failed"


async def test_submit_with_wait_answers_the_final_state(client: AnyClient) -> None:
    job = await run(client.submit("count", {"steps": 1, "pause": 0}, wait=10))
    assert job.status == "completed"
    assert job.result == {"counted": 1}
    assert await run(client.result(job.job_id)) == {"counted": 1}


async def test_cancel_a_queued_and_a_running_job(client: AnyClient) -> None:
    queued = await run(client.submit("linger", delay=3600))
    cancelled = await run(client.cancel(queued.job_id))
    assert cancelled.status == "cancelled"

    running = await run(client.submit("linger"))
    await until_status(client, running.job_id, "processing")
    asked = await run(client.cancel(running.job_id))
    assert asked.cancel_requested or asked.status == "cancelled"
    done = await run(client.wait(running.job_id, timeout=20))
    assert done.status == "cancelled"

    with pytest.raises(Conflict) as info:
        await run(client.cancel(running.job_id))
    assert info.value.status == 409
    assert info.value.job_status == "cancelled"


async def test_delete_then_not_found(client: AnyClient) -> None:
    job = await run(client.submit("count", {"steps": 1, "pause": 0}, wait=10))
    assert await run(client.delete(job.job_id)) is None
    with pytest.raises(NotFound) as info:
        await run(client.get(job.job_id))
    assert info.value.status == 404
    assert job.job_id in str(info.value)
    with pytest.raises(NotFound):
        await run(client.delete(job.job_id))


async def test_delete_of_a_running_job_is_a_conflict(client: AnyClient) -> None:
    job = await run(client.submit("linger"))
    with pytest.raises(Conflict):
        await run(client.delete(job.job_id))
    await run(client.cancel(job.job_id))
    await run(client.wait(job.job_id, timeout=20))


async def test_list_and_iter_jobs_filter_and_paginate(client: AnyClient) -> None:
    submitted = [await run(client.submit("tag", delay=3600)) for _ in range(5)]
    ids = [j.job_id for j in submitted]

    page: JobPage = await run(client.list(operation="tag", status="queued", limit=2))
    assert len(page) == 2
    assert page.next_cursor is not None
    assert all(j.operation == "tag" and j.status == "queued" for j in page)

    everything: list[JobResource] = await items(
        client.iter_jobs(operation="tag", status=["queued", "cancelled"], page_size=2)
    )
    listed = [j.job_id for j in everything]
    assert len(listed) == len(set(listed))  # no page repeats another
    assert [i for i in listed if i in ids] == ids[::-1]  # newest first

    whole: JobPage = await run(client.list(operation="tag", status="queued,cancelled", limit=200))
    assert [j.job_id for j in whole] == listed
    assert whole.next_cursor is None

    for job_id in ids:
        await run(client.cancel(job_id))
    queued: list[JobResource] = await items(client.iter_jobs(operation="tag", status="queued"))
    assert not {j.job_id for j in queued} & set(ids)


async def test_download_writes_the_exact_bytes(client: AnyClient, tmp_path: Path) -> None:
    job = await run(client.submit("blob", {"size": 300_000}, wait=10))
    assert job.status == "completed"
    target = tmp_path / "out" / "blob.bin"
    target.parent.mkdir()
    target.write_bytes(b"old content")
    path = await run(client.download(job.job_id, target))
    assert path == target
    assert target.read_bytes() == blob_bytes(300_000)
    assert names(target.parent) == ["blob.bin"]  # no temp file left
    assert await run(client.result(job.job_id)) == blob_bytes(300_000)


async def test_download_of_an_unfinished_job_leaves_nothing(
    client: AnyClient, tmp_path: Path
) -> None:
    job = await run(client.submit("linger", delay=3600))
    with pytest.raises(Conflict):
        await run(client.download(job.job_id, tmp_path / "x.bin"))
    assert names(tmp_path) == []
    await run(client.cancel(job.job_id))


@pytest.mark.parametrize(
    ("operation", "params", "pointer"),
    [("nope", {}, None), ("count", {"steps": 0}, "/steps")],
)
async def test_invalid_submits_explain_themselves(
    client: AnyClient, operation: str, params: dict[str, Any], pointer: str | None
) -> None:
    with pytest.raises(Unprocessable) as info:
        await run(client.submit(operation, params))
    error = info.value
    assert error.status == 422
    assert error.problem["status"] == 422
    assert "\n" not in str(error) and str(error).startswith("422 ")
    if pointer is not None:
        assert any(pointer in e.get("pointer", "") for e in error.errors)


async def test_unknown_job_is_not_found(client: AnyClient) -> None:
    with pytest.raises(NotFound):
        await run(client.get("00000000-0000-4000-8000-000000000000"))
    with pytest.raises(NotFound):
        await run(client.wait("no/such job", timeout=5))


async def test_operations_lists_the_services_operations(client: AnyClient) -> None:
    await run(client.submit("count", {"steps": 1}))
    ops = {o.operation: o for o in await run(client.operations())}
    assert "count" in ops
    count = ops["count"]
    assert count.queue == "default" and count.concurrency is None and count.fair is False
    assert count.rate_limit is None and count.max_queued is None
    assert isinstance(count.max_attempts, int) and count.max_attempts >= 1
