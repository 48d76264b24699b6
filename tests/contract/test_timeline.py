"""The finished-jobs timeline (`store.timeline`, lro.store.timeline): jobs counted in the
bucket of their finished_at by how they ended, and nearest-rank p50/p95 of the completed
ones' durations, everyone's or one owner's; the same exact figures on every backend."""

from __future__ import annotations

import pytest
from tests.contract.helpers import RETENTION, at, claim_one, lease_of, submit

from lro.models import Completion, ErrorDetail, Failure
from lro.store import Store
from lro.store.timeline import Timeline, TimelineBucket, timeline_of

ERROR = ErrorDetail("https://example.com/problems/x", "X", "x", "x", False, 1)


def part(store: Store) -> Timeline:
    timeline = timeline_of(store)
    if timeline is None:  # a backend without it says so (the API answers 501)
        pytest.skip("this backend keeps no timeline")
    return timeline


async def finish(store: Store, owner: str, started: float, took: float) -> None:
    await submit(store, owner=owner)
    job = await claim_one(store, at(started))
    await store.complete_jobs([Completion(lease_of(job))], at(started + took), RETENTION)


async def test_buckets_count_endings_and_rank_durations(store: Store) -> None:
    timeline = part(store)
    # Bucket 0 (0-60 s): alice's 1..10 s jobs (p50 = rank 5 = 5 s, p95 = rank 10 = 10 s).
    for n in range(1, 11):
        await finish(store, "alice", n, float(n))
    # Bucket 2 (120-180 s): bob's 2.5 s job, one failure and one cancel of alice's.
    await finish(store, "bob", 120, 2.5)
    failing = await submit(store, owner="alice")
    running = await claim_one(store, at(125))
    assert running.id == failing.id
    await store.fail_jobs([Failure(lease_of(running), ERROR)], at(130), RETENTION)
    queued = await submit(store, owner="alice")
    await store.request_cancel(queued.id, at(150), RETENTION)
    # Outside the window: ends at 200 s.
    await finish(store, "alice", 190, 10)

    everyone = await timeline.finished_buckets(None, at(0), at(180), 60)
    assert everyone == [
        TimelineBucket(0, 10, 0, 0, 5.0, 10.0),
        TimelineBucket(2, 1, 1, 1, 2.5, 2.5),
    ]
    assert await timeline.finished_buckets("alice", at(0), at(180), 60) == [
        TimelineBucket(0, 10, 0, 0, 5.0, 10.0),
        TimelineBucket(2, 0, 1, 1, None, None),
    ]
    assert await timeline.finished_buckets("bob", at(0), at(180), 60) == [
        TimelineBucket(2, 1, 0, 0, 2.5, 2.5)
    ]
    # One bucket over the whole window; `until` is exclusive, `since` inclusive. Eleven
    # durations 1, 2, 2.5, 3 … 10: p50 is rank 6 (5 s), p95 rank 11 (10 s).
    assert await timeline.finished_buckets(None, at(2), at(200), 300) == [
        TimelineBucket(0, 11, 1, 1, 5.0, 10.0)
    ]
    # Without the job that ended at 2 s, with the one that ended at 200 s: durations
    # 2, 2.5, 3 … 10, 10; p50 is rank 6 (6 s).
    assert await timeline.finished_buckets(None, at(3), at(201), 300) == [
        TimelineBucket(0, 11, 1, 1, 6.0, 10.0)
    ]
    assert await timeline.finished_buckets("carol", at(0), at(600), 60) == []
