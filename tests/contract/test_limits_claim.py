"""Workload limits in the claim (`Store.workload`, HTTP-CONTRACT §13), on every backend.

A backend without the capability (`workload is None`) skips these with its reason: the
LRO refuses limits on it at start-up instead (tests/unit/test_limits.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from tests.contract.helpers import LEASE, RETENTION, T0, StoreFactory, at, claim, new_job

from lro.models import Completion, Failure, Job, Lease, NewJob
from lro.store import ClaimParams, RescueParams, Store
from lro.store.base import LimitedOperation, Workload
from lro.store.rules import worker_lost_error


def workload_of(store: Store) -> Workload:
    workload = store.workload
    if workload is None:
        pytest.skip(f"{type(store).__name__} has no workload limits (Store.workload is None)")
    return workload


async def add(store: Store, key: str, count: int = 1, **fields: object) -> list[Job]:
    jobs: list[NewJob] = [new_job(concurrency_key=key, **fields) for _ in range(count)]
    return [i.job for i in await store.insert_jobs(jobs, T0)]


async def take(
    store: Store,
    spec: LimitedOperation,
    limit: int = 100,
    now: float = 0.0,
    worker: str = "w1",
    lease: float = LEASE,
) -> list[Job]:
    return await workload_of(store).claim_limited(
        ClaimParams(worker, limit, lease, at(now)), [spec]
    )


async def finish(store: Store, jobs: Sequence[Job], now: float = 1.0) -> None:
    done = await store.complete_jobs(
        [Completion(Lease(j.id, j.lease_token or "")) for j in jobs], at(now), RETENTION
    )
    assert all(d is not None for d in done)


async def test_the_plain_claim_never_takes_a_keyed_job(store: Store) -> None:
    workload_of(store)
    await add(store, "")
    (plain,) = [i.job for i in await store.insert_jobs([new_job()], T0)]
    assert [j.id for j in await claim(store, 10)] == [plain.id]
    assert await claim(store, 10) == []


async def test_concurrency_holds_under_parallel_claimers(stores: StoreFactory) -> None:
    first = await stores()
    workload_of(first)
    many = [first, *[await stores() for _ in range(5)]]
    await add(first, "", 30)
    spec = LimitedOperation("op", concurrency=4)
    rounds = await asyncio.gather(
        *(take(s, spec, limit=3, worker=f"w{i}") for i, s in enumerate(many))
    )
    running = [j for got in rounds for j in got]
    assert len(running) == 4
    assert len({j.id for j in running}) == 4
    assert await take(first, spec) == []  # held back: still queued, not failed
    await finish(first, running[:2])
    again = await asyncio.gather(*(take(s, spec, limit=5) for s in many))
    assert sum(len(g) for g in again) == 2


async def test_key_concurrency_holds_per_key_and_keeps_each_keys_order(store: Store) -> None:
    big = await add(store, "a", 5)
    small = await add(store, "b", 1)
    spec = LimitedOperation("op", key_concurrency=1)
    got = await take(store, spec)
    assert {j.id for j in got} == {big[0].id, small[0].id}
    assert await take(store, spec) == []
    await finish(store, [j for j in got if j.id == big[0].id])
    assert [j.id for j in await take(store, spec)] == [big[1].id]  # next in its key


async def test_runnable_work_is_found_behind_held_back_keys(store: Store) -> None:
    spec = LimitedOperation("op", key_concurrency=1)
    await add(store, "busy", 1)
    for i in range(0, 1000, 250):  # 1,000 customers, one job running each
        await store.insert_jobs([new_job(concurrency_key=f"c{n}") for n in range(i, i + 250)], T0)
    assert len(await take(store, spec, limit=1001)) == 1001
    await add(store, "busy", 10_000)  # held back behind the running one
    for i in range(0, 1000, 250):  # and one more queued per customer, held back too
        await store.insert_jobs([new_job(concurrency_key=f"c{n}") for n in range(i, i + 250)], T0)
    (runnable,) = await add(store, "other", 1)
    assert [j.id for j in await take(store, spec)] == [runnable.id]
    assert await take(store, spec) == []  # 11,000 queued, none of them runnable


async def test_priority_goes_first_within_a_key(store: Store) -> None:
    low = await add(store, "k", 1, priority=0)
    high = await add(store, "k", 1, priority=5)
    spec = LimitedOperation("op", key_concurrency=1)
    assert [j.id for j in await take(store, spec)] == [high[0].id]
    assert low[0].id not in {j.id for j in await take(store, spec)}


async def test_the_rate_window_slides_at_claim_time(store: Store) -> None:
    await add(store, "", 10)
    spec = LimitedOperation("op", rate_limit=3, rate_period_seconds=10)
    assert len(await take(store, spec, now=0)) == 3
    assert await take(store, spec, now=5) == []
    assert await take(store, spec, now=9.999) == []
    assert len(await take(store, spec, now=10, limit=2)) == 2  # the first 3 left the window
    assert len(await take(store, spec, now=12)) == 1
    assert await take(store, spec, now=19) == []
    assert len(await take(store, spec, now=20)) == 2


async def test_fair_keys_take_turns_one_job_per_round(store: Store) -> None:
    a = await add(store, "a", 5)
    b = await add(store, "b", 2)
    c = await add(store, "c", 1)
    spec = LimitedOperation("op", fair=True)
    got = await take(store, spec, limit=6)
    assert [j.id for j in got] == [a[0].id, b[0].id, c[0].id, a[1].id, b[1].id, a[2].id]
    assert [j.id for j in await take(store, spec)] == [a[3].id, a[4].id]


async def test_fair_turns_go_round_one_claim_at_a_time(store: Store) -> None:
    a = await add(store, "a", 3)
    b = await add(store, "b", 2)
    spec = LimitedOperation("op", fair=True)
    order: list[str] = []
    for step in range(5):
        (job,) = await take(store, spec, limit=1, now=step)
        order.append(job.id)
        await finish(store, [job], now=step + 0.5)
    assert order == [a[0].id, b[0].id, a[1].id, b[1].id, a[2].id]


async def test_the_depth_count_stops_at_the_cap(store: Store) -> None:
    workload = workload_of(store)
    await add(store, "", 7)
    assert await workload.queued_count("op", 100) == 7
    assert await workload.queued_count("op", 5) == 5
    assert await workload.queued_count("other", 5) == 0


async def test_a_rescued_lease_gives_its_slot_back(store: Store) -> None:
    await add(store, "", 2)
    spec = LimitedOperation("op", concurrency=1)
    (first,) = await take(store, spec, lease=5)
    assert await take(store, spec, now=1) == []
    rescued = await store.rescue_expired(RescueParams(now=at(10), retention_seconds=RETENTION))
    assert [j.id for j in rescued] == [first.id]
    got = await take(store, spec, now=11)
    assert len(got) == 1  # the freed slot, taken by one of the two queued jobs


async def test_cancel_fail_and_release_give_slots_back_at_once(store: Store) -> None:
    await add(store, "", 5)
    spec = LimitedOperation("op", concurrency=1)
    (one,) = await take(store, spec)
    requested = await store.request_cancel(one.id, at(1), RETENTION)
    assert requested is not None and requested.outcome.value == "requested"
    assert await take(store, spec, now=1) == []  # still running until its worker stops it
    await store.cancel_jobs([Lease(one.id, one.lease_token or "")], at(2), RETENTION)
    (two,) = await take(store, spec, now=2)
    error = worker_lost_error(1)
    await store.fail_jobs([Failure(Lease(two.id, two.lease_token or ""), error)], at(3), RETENTION)
    (three,) = await take(store, spec, now=3)
    await store.release_jobs([Lease(three.id, three.lease_token or "")], at(4))
    (four,) = await take(store, spec, now=4)
    assert four.id not in {one.id, two.id}  # the released one is queued again (run_at 4)


async def test_a_cancelled_queued_job_is_no_longer_counted(store: Store) -> None:
    workload = workload_of(store)
    jobs = await add(store, "k", 2)
    await store.request_cancel(jobs[0].id, at(1), RETENTION)
    spec = LimitedOperation("op", key_concurrency=1)
    assert [j.id for j in await take(store, spec, now=1)] == [jobs[1].id]
    assert await workload.queued_count("op", 10) == 0


async def test_adopt_moves_queued_jobs_between_the_claims(store: Store) -> None:
    workload = workload_of(store)
    (plain,) = [i.job for i in await store.insert_jobs([new_job()], T0)]
    assert await workload.adopt("op", limited=True) == 1  # the operation became limited
    assert await claim(store, 10) == []
    spec = LimitedOperation("op", concurrency=1)
    assert [j.id for j in await take(store, spec)] == [plain.id]
    keyed = await add(store, "k", 2)
    assert await workload.adopt("op", limited=False) == 2  # and limited no more
    assert await workload.queued_count("op", 10) == 0
    assert {j.id for j in await claim(store, 10)} == {j.id for j in keyed}
    assert await workload.adopt("op", limited=False) == 0


async def test_key_concurrency_holds_under_parallel_claimers(stores: StoreFactory) -> None:
    first = await stores()
    workload_of(first)
    many = [first, *[await stores() for _ in range(5)]]
    for key in "abcde":
        await add(first, key, 4, params={"key": key})
    spec = LimitedOperation("op", key_concurrency=1)
    rounds = await asyncio.gather(
        *(take(s, spec, limit=2, worker=f"w{i}") for i, s in enumerate(many))
    )
    running = [j for got in rounds for j in got]
    assert sorted(j.params["key"] for j in running) == list("abcde")  # one per key
    assert await take(first, spec) == []
