"""Retries against a real server behind a misbehaving proxy (tests/client/faultproxy.py):
lost answers, 503/429 with Retry-After, broken downloads, a server that is not there."""

from __future__ import annotations

import itertools
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.client.conftest import AnyClient
from tests.client.faultproxy import Cut, DropAnswer, FaultProxy, Reply
from tests.client.helpers import names, run
from tests.client.server import blob_bytes

from lro.client import Backoff, NotFound, RateLimited, ServiceUnavailable, TransportFailure

MakeClient = Callable[..., AnyClient]
JOBS = "/api/v1/jobs"


async def test_submit_whose_answer_was_lost_is_replayed_not_repeated(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url)
    proxy.add(f"POST {JOBS}", DropAnswer())

    job = await run(client.submit("count", {"steps": 1, "pause": 0}))

    first, second = proxy.requests(f"POST {JOBS}")
    assert isinstance(first.fault, DropAnswer) and second.fault is None
    key = first.headers["idempotency-key"]
    assert key and second.headers["idempotency-key"] == key
    # The server did create the job the first time; the retry got that job back.
    assert first.answer.startswith("http/1.1 202")
    assert "idempotent-replayed: true" in second.answer
    assert "idempotent-replayed" not in first.answer
    assert (await run(client.get(job.job_id))).job_id == job.job_id


async def test_own_idempotency_key_is_sent_as_given(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url, api_key="k-123", headers={"X-Trace": "t1"})
    key = f"order-{uuid.uuid4()}"
    first = await run(client.submit("tag", idempotency_key=key, delay=3600))
    again = await run(client.submit("tag", idempotency_key=key, delay=3600))
    assert again.job_id == first.job_id
    sent = proxy.requests(f"POST {JOBS}")
    assert [s.headers["idempotency-key"] for s in sent] == [key, key]
    assert sent[0].headers["authorization"] == "Bearer k-123"
    assert sent[0].headers["x-trace"] == "t1"
    assert sent[0].headers["user-agent"].startswith("lro-client/")
    await run(client.cancel(first.job_id))


async def test_503_is_retried_after_the_servers_retry_after(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url, backoff=Backoff(base=0.001, cap=0.002))
    job = await run(client.submit("tag", delay=3600))
    proxy.add(f"GET {JOBS}/{job.job_id}", Reply(503, {"Retry-After": "1"}), times=2)

    again = await run(client.get(job.job_id))

    assert again.job_id == job.job_id
    tries = proxy.requests(f"GET {JOBS}/{job.job_id}")
    assert [type(t.fault).__name__ for t in tries] == ["Reply", "Reply", "NoneType"]
    # The backoff alone would have retried within 2 ms; the server asked for 1 s.
    assert all(b.at - a.at >= 1.0 for a, b in itertools.pairwise(tries))
    await run(client.cancel(job.job_id))


async def test_429_until_the_retries_run_out(make_client: MakeClient, proxy: FaultProxy) -> None:
    client = make_client(proxy.url, max_retries=2)
    proxy.add("GET", Reply(429, {"Retry-After": "0"}), times=None)
    with pytest.raises(RateLimited) as info:
        await run(client.get("any"))
    assert info.value.status == 429
    assert info.value.retry_after == 0
    assert len(proxy.requests("GET")) == 3


async def test_a_retry_after_beyond_the_limit_is_the_callers_call(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url)
    proxy.add("GET", Reply(503, {"Retry-After": "3600"}), times=None)
    with pytest.raises(ServiceUnavailable) as info:
        await run(client.get("any"))
    assert info.value.retry_after == 3600
    assert "retry after 3600s" in str(info.value)
    assert len(proxy.requests("GET")) == 1


async def test_cancel_whose_answer_was_lost_returns_the_cancelled_job(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url)
    job = await run(client.submit("linger", delay=3600))
    proxy.add("/cancel", DropAnswer())

    cancelled = await run(client.cancel(job.job_id))

    assert cancelled.status == "cancelled"
    first, second = proxy.requests("/cancel")
    assert first.answer.startswith("http/1.1 202") and second.answer.startswith("http/1.1 409")


async def test_delete_whose_answer_was_lost_is_done(
    make_client: MakeClient, proxy: FaultProxy
) -> None:
    client = make_client(proxy.url)
    job = await run(client.submit("count", {"steps": 1, "pause": 0}, wait=10))
    proxy.add(f"DELETE {JOBS}/", DropAnswer())

    assert await run(client.delete(job.job_id)) is None

    first, second = proxy.requests("DELETE")
    assert first.answer.startswith("http/1.1 204") and second.answer.startswith("http/1.1 404")
    with pytest.raises(NotFound):
        await run(client.get(job.job_id))


async def test_broken_download_resumes_with_range(
    make_client: MakeClient, proxy: FaultProxy, tmp_path: Path
) -> None:
    client = make_client(proxy.url)
    job = await run(client.submit("blob", {"size": 400_000}, wait=10))
    proxy.add("/result", Cut(150_000))

    path = await run(client.download(job.job_id, tmp_path / "blob.bin"))

    assert path.read_bytes() == blob_bytes(400_000)
    first, second = proxy.requests("/result")
    assert "range" not in first.headers
    start = int(second.headers["range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start < 150_000
    assert second.headers["if-range"]
    assert second.answer.startswith("http/1.1 206")
    assert names(tmp_path) == ["blob.bin"]


async def test_no_server_is_a_transport_failure_after_the_retries(
    make_client: MakeClient,
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}", max_retries=2)
    with pytest.raises(TransportFailure) as info:
        await run(client.submit("count"))
    assert info.value.attempts == 3
    assert "failed 3 times" in str(info.value)


async def test_broken_download_without_ranges_starts_over(
    make_client: MakeClient, proxy: FaultProxy, tmp_path: Path
) -> None:
    client = make_client(proxy.url)
    job = await run(client.submit("count", {"steps": 1, "pause": 0}, wait=10))
    # A JSON result is served whole (no Accept-Ranges): cut it after its headers.
    proxy.add("/result", Cut(b"\r\n\r\n"))

    path = await run(client.download(job.job_id, tmp_path / "result.json"))

    assert path.read_bytes() == b'{"counted":1}'
    assert [("range" in s.headers) for s in proxy.requests("/result")] == [False, False]
