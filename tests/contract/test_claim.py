"""claim_jobs, heartbeat and fencing: the queue hands each job to one worker at a time."""

from __future__ import annotations

import asyncio

from tests.contract.helpers import (
    LEASE,
    RETENTION,
    T0,
    StoreFactory,
    at,
    claim,
    claim_one,
    current,
    event_kinds,
    lease_of,
    submit,
    submit_many,
)

from lro.models import Completion, ErrorDetail, Failure, Lease, ProgressUpdate, Status
from lro.store import RescueParams, Store


async def test_claim_sets_the_lease_fields(store: Store) -> None:
    queued = await submit(store)
    job = await claim_one(store, at(5), worker_id="w7", lease_seconds=20)
    assert job.id == queued.id
    assert job.status is Status.PROCESSING
    assert (job.attempt, job.version, job.worker_id) == (1, 2, "w7")
    assert job.lease_token
    assert job.lease_expires_at == at(25)
    assert job.started_at == job.updated_at == at(5)
    assert (job.progress_pct, job.step) == (0.0, None)
    assert await current(store, job.id) == job
    assert await event_kinds(store, job.id) == [(1, "status"), (2, "status")]


async def test_claim_order_is_priority_then_run_at_then_creation(store: Store) -> None:
    low = await submit(store, priority=0)
    late = await submit(store, priority=5, run_at=at(2))
    early = await submit(store, priority=5, run_at=at(1))
    second = await submit(store, priority=0)
    high = await submit(store, priority=9, run_at=at(3))
    got = await claim(store, 10, at(10))
    assert [j.id for j in got] == [high.id, early.id, late.id, low.id, second.id]


async def test_claim_respects_limit_and_run_at(store: Store) -> None:
    jobs = await submit_many(store, 5)
    future = await submit(store, run_at=at(100))
    first = await claim(store, 2, at(1))
    assert [j.id for j in first] == [j.id for j in jobs[:2]]
    rest = await claim(store, 10, at(99))
    assert [j.id for j in rest] == [j.id for j in jobs[2:]]
    assert await claim(store, 10, at(99)) == []
    assert [j.id for j in await claim(store, 10, at(100))] == [future.id]


async def test_claim_filters_operations(store: Store) -> None:
    a = await submit(store, operation="a")
    b = await submit(store, operation="b")
    c = await submit(store, operation="c")
    assert await claim(store, 10, operations=[]) == []
    got = await claim(store, 10, operations=["c", "a"])
    assert {j.id for j in got} == {a.id, c.id}
    assert [j.id for j in await claim(store, 10)] == [b.id]


async def test_concurrent_claims_never_share_a_job(stores: StoreFactory) -> None:
    """Three stores on one database stand in for three worker processes."""
    workers = [await stores() for _ in range(3)]
    jobs = await submit_many(workers[0], 60)

    async def drain(store: Store, name: str) -> list[str]:
        mine: list[str] = []
        while batch := await claim(store, 4, worker_id=name):
            mine.extend(j.id for j in batch)
        return mine

    results = await asyncio.gather(
        *(drain(w, f"w{i}-{n}") for i, w in enumerate(workers) for n in range(2))
    )
    claimed = [job_id for r in results for job_id in r]
    assert len(claimed) == len(set(claimed)) == 60
    assert set(claimed) == {j.id for j in jobs}


async def test_heartbeat_extends_and_reports_cancel(store: Store) -> None:
    await submit(store)
    job = await claim_one(store, T0)
    (hb,) = await store.heartbeat([lease_of(job)], LEASE, at(20))
    assert (hb.job_id, hb.alive, hb.cancel_requested) == (job.id, True, False)
    after = await current(store, job.id)
    assert after.lease_expires_at == at(50)
    assert after.version == job.version  # no version, no event
    assert len(await store.events_after(job.id, 0)) == 2
    assert await store.rescue_expired(RescueParams(now=at(40), retention_seconds=RETENTION)) == []

    await store.request_cancel(job.id, at(21), RETENTION)
    stale = Lease(job.id, "not-the-token")
    alive, lost = await store.heartbeat([lease_of(job), stale], LEASE, at(22))
    assert (alive.alive, alive.cancel_requested) == (True, True)
    assert (lost.job_id, lost.alive, lost.cancel_requested) == (job.id, False, False)
    assert await store.heartbeat([], LEASE, at(22)) == []


async def test_old_lease_is_fenced_after_rescue_and_reclaim(store: Store) -> None:
    await submit(store, max_attempts=5)
    first = await claim_one(store, T0, worker_id="dead")
    rescued = await store.rescue_expired(RescueParams(now=at(31), retention_seconds=RETENTION))
    assert [j.id for j in rescued] == [first.id]
    second = await claim_one(store, at(32), worker_id="alive")
    assert second.lease_token != first.lease_token
    old = lease_of(first)
    snapshot = await current(store, first.id)

    assert await store.set_progress([ProgressUpdate(old, 50, "stale")], at(33)) == [False]
    assert await store.complete_jobs([Completion(old, result="stale")], at(33), RETENTION) == [None]
    error = ErrorDetail("t", "title", "detail", "code", False, 2)
    assert await store.fail_jobs([Failure(old, error)], at(33), RETENTION) == [None]
    retry = Failure(old, error, retry_at=at(40))
    assert await store.fail_jobs([retry], at(33), RETENTION) == [None]
    assert await store.cancel_jobs([old], at(33), RETENTION) == [None]
    assert await store.release_jobs([old], at(33)) == [None]
    (hb,) = await store.heartbeat([old], LEASE, at(33))
    assert not hb.alive
    assert await current(store, first.id) == snapshot

    (done,) = await store.complete_jobs([Completion(lease_of(second), result=2)], at(34), RETENTION)
    assert done is not None and done.status is Status.COMPLETED
    # After completion the new lease is spent as well.
    assert await store.set_progress([ProgressUpdate(lease_of(second), 60, None)], at(35)) == [False]
