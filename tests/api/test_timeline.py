"""GET /api/v1/stats/timeline: every bucket of the window listed, the store's figures in
the bucket of each job's finished_at, bad windows refused with a 400 problem (as the job
list's bad query parameters), and 501 on a store without the timeline part. The figures
themselves are the store's (tests/contract/test_timeline.py, on every backend)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from tests.api.helpers import PREFIX, assert_problem
from tests.contract.helpers import claim_one, lease_of, submit

from lro import LRO
from lro.models import Completion, utcnow


async def finish(lro: LRO, start: datetime, took: float) -> datetime:
    await submit(lro.store, start, operation="echo")
    job = await claim_one(lro.store, start)
    end = start + timedelta(seconds=took)
    [done] = await lro.store.complete_jobs([Completion(lease_of(job))], end, 3600)
    assert done is not None
    return end


async def test_the_last_hour_in_minutes(lro: LRO, client: httpx.AsyncClient) -> None:
    half_an_hour_ago = utcnow() - timedelta(minutes=30)
    ends = [await finish(lro, half_an_hour_ago, took) for took in (1.0, 2.0, 3.0, 4.0)]
    old = await finish(lro, utcnow() - timedelta(hours=3), 1.0)  # outside the window

    r = await client.get(f"{PREFIX}/stats/timeline")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["window_seconds"], body["bucket_seconds"]) == (3600, 60)
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])
    assert until - since == timedelta(hours=1) and until.second == 0 and until.microsecond == 0
    assert since <= ends[0] and old < since
    buckets = body["buckets"]
    assert len(buckets) == 60
    starts = [datetime.fromisoformat(b["start"]) for b in buckets]
    assert starts == [since + timedelta(minutes=n) for n in range(60)]
    busy = [
        b for s, b in zip(starts, buckets, strict=True) if s <= ends[0] < s + timedelta(minutes=1)
    ]
    late = [
        b for s, b in zip(starts, buckets, strict=True) if s <= ends[-1] < s + timedelta(minutes=1)
    ]
    assert busy and late
    # The four jobs end within 4 s: in one bucket or split over two minutes.
    total = sum(b["completed"] for b in buckets)
    assert total == 4
    if busy == late:
        assert busy[0] == {
            "start": busy[0]["start"],
            "completed": 4,
            "failed": 0,
            "cancelled": 0,
            "p50_seconds": 2.0,
            "p95_seconds": 4.0,
        }
    empty = [b for b in buckets if b not in busy and b not in late]
    assert all(b["completed"] == b["failed"] == b["cancelled"] == 0 for b in empty)
    assert all(b["p50_seconds"] is None and b["p95_seconds"] is None for b in empty)


async def test_other_windows_and_bad_ones(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{PREFIX}/stats/timeline", params={"window": 600, "bucket": 300})
    assert r.status_code == 200 and len(r.json()["buckets"]) == 2
    for params, pointer in (
        ({"window": 100, "bucket": 60}, "/query/window"),
        ({"window": 86_400, "bucket": 10}, "/query/bucket"),
    ):
        problem = assert_problem(await client.get(f"{PREFIX}/stats/timeline", params=params), 400)
        assert problem["errors"][0]["pointer"] == pointer
    for params in ({"window": 30}, {"bucket": 5}, {"window": "an hour"}):
        assert_problem(await client.get(f"{PREFIX}/stats/timeline", params=params), 400)


async def test_a_store_without_a_timeline_answers_501(lro: LRO, client: httpx.AsyncClient) -> None:
    lro.store.timeline = None  # type: ignore[attr-defined]  # as on Redis, for now
    problem = assert_problem(await client.get(f"{PREFIX}/stats/timeline"), 501)
    assert "SQLite or PostgreSQL" in problem["detail"]
