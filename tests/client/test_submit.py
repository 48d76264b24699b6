"""How a submit is answered (HTTP-CONTRACT §1, §21): `202` with the queued job, or `200`
with the final one when the job ended while the server held the request, and
`Prefer: respond-async` for the immediate `202`. Through the fault proxy, which records
what really went over the wire."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.client.conftest import AnyClient
from tests.client.faultproxy import FaultProxy
from tests.client.helpers import run

from lro.client import JobResource

MakeClient = Callable[..., AnyClient]
SUBMIT = "POST /api/v1/jobs"


async def test_a_submit_answered_200_is_the_final_job(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url)

    done: JobResource = await run(client.submit("count", {"steps": 2, "pause": 0}, wait=10))
    failed: JobResource = await run(client.submit("count", {"fail_at": 1}, wait=10))

    first, second = proxy.requests(SUBMIT)
    assert first.headers["prefer"] == "wait=10"
    assert first.answer.startswith("http/1.1 200")
    assert "preference-applied: wait=10" in first.answer
    assert done.is_terminal and done.status == "completed"
    assert done.result == {"counted": 2} and done.progress_pct == 100
    assert second.answer.startswith("http/1.1 200")
    assert failed.status == "failed"  # returned, not raised, like wait() does
    assert failed.error is not None and failed.error.code == "count_failed"
    # Final means final: it is what the job resource says from now on.
    assert (await run(client.get(done.job_id))).status == "completed"


async def test_a_submit_answered_202_is_the_queued_job(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url)
    job: JobResource = await run(client.submit("tag", delay=3600))
    [seen] = proxy.requests(SUBMIT)
    assert "prefer" not in seen.headers
    assert seen.answer.startswith("http/1.1 202")
    assert job.status == "queued" and not job.is_terminal
    await run(client.cancel(job.job_id))


async def test_respond_async_sends_prefer_respond_async(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url)
    job: JobResource = await run(
        client.submit("count", {"steps": 1, "pause": 0}, respond_async=True)
    )
    [seen] = proxy.requests(SUBMIT)
    assert seen.headers["prefer"] == "respond-async"
    assert seen.answer.startswith("http/1.1 202")
    assert job.status in ("queued", "processing")
    assert (await run(client.wait(job.job_id, timeout=20))).status == "completed"


async def test_wait_and_respond_async_together_are_refused_before_any_request(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url)
    with pytest.raises(ValueError, match="wait or respond_async"):
        await run(client.submit("count", wait=5, respond_async=True))
    assert proxy.requests(SUBMIT) == []
