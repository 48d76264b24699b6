"""sweep: expired terminal jobs go, tombstones stay for a while, keys are forgotten."""

from __future__ import annotations

import asyncio

from tests.contract.helpers import (
    RETENTION,
    T0,
    StoreFactory,
    at,
    claim,
    current,
    lease_of,
    new_job,
    submit,
)

from lro.models import Completion, ResultRef, Status, Tombstone
from lro.store import Store, SweepParams

KEEP = 1000.0


async def test_sweep_deletes_only_expired_terminal_jobs(store: Store) -> None:
    ref = ResultRef(key="r/1.csv", content_type="text/csv", size=1)
    for _ in range(4):
        await submit(store, owner="alice")
    with_file, inline, fresh, running = await claim(store, 4)
    queued = await submit(store, owner="alice")
    await store.complete_jobs([Completion(lease_of(with_file), result_ref=ref)], at(1), 10)
    await store.complete_jobs([Completion(lease_of(inline), result=[1])], at(2), 10)
    await store.complete_jobs([Completion(lease_of(fresh), result=[2])], at(3), 100)

    swept = await store.sweep(SweepParams(now=at(12), batch_size=100, tombstone_seconds=KEEP))
    assert sorted(swept.job_ids) == sorted([with_file.id, inline.id])
    assert swept.result_refs == [ref]
    for gone in (with_file, inline):
        assert await store.get_job(gone.id) is None
        assert await store.events_after(gone.id, 0) == []
    assert (await current(store, fresh.id)).status is Status.COMPLETED
    assert (await current(store, running.id)).status is Status.PROCESSING
    assert (await current(store, queued.id)).status is Status.QUEUED

    assert await store.get_tombstone(with_file.id, at(12)) == Tombstone(
        with_file.id, "alice", at(11)
    )
    assert await store.get_tombstone(with_file.id, at(11 + KEEP - 1)) is not None
    assert await store.get_tombstone(with_file.id, at(11 + KEEP)) is None
    assert await store.get_tombstone(fresh.id, at(12)) is None

    later = await store.sweep(
        SweepParams(now=at(11 + KEEP), batch_size=100, tombstone_seconds=KEEP)
    )
    assert later.job_ids == [fresh.id]
    assert await store.get_tombstone(fresh.id, at(11 + KEEP)) is not None
    assert await store.get_tombstone(with_file.id, at(0)) is None  # dropped, not just hidden


async def test_sweep_never_touches_active_jobs_even_long_after(store: Store) -> None:
    queued = await submit(store)
    await submit(store)
    (running,) = await claim(store, 1)
    swept = await store.sweep(SweepParams(now=at(10**9), batch_size=10, tombstone_seconds=KEEP))
    assert swept.job_ids == []
    assert await store.get_job(queued.id) is not None
    assert await store.get_job(running.id) is not None


async def test_sweep_respects_batch_size(store: Store) -> None:
    for _ in range(5):
        job = await submit(store)
        await store.request_cancel(job.id, at(1), 10)
    params = SweepParams(now=at(20), batch_size=2, tombstone_seconds=KEEP)
    sizes = [len((await store.sweep(params)).job_ids) for _ in range(4)]
    assert sizes == [2, 2, 1, 0]


async def test_sweep_clears_expired_idempotency_keys(store: Store) -> None:
    job = await submit(store, idempotency_key="k", idempotency_expires_at=at(100))
    kept = await submit(store, idempotency_key="k2", idempotency_expires_at=at(500))
    await store.sweep(SweepParams(now=at(100), batch_size=10, tombstone_seconds=KEEP))
    after = await current(store, job.id)
    assert (after.idempotency_key, after.status) == (None, Status.QUEUED)
    assert (await current(store, kept.id)).idempotency_key == "k2"
    (fresh,) = await store.insert_jobs([new_job(idempotency_key="k")], at(101))
    assert fresh.created and fresh.job.id != job.id


async def test_concurrent_sweeps_delete_each_job_once(stores: StoreFactory) -> None:
    a, b = await stores(), await stores()
    ids = []
    for _ in range(12):
        job = await submit(a)
        await a.request_cancel(job.id, T0, RETENTION)
        ids.append(job.id)
    params = SweepParams(now=at(RETENTION), batch_size=3, tombstone_seconds=KEEP)
    swept: list[str] = []
    for _ in range(3):
        results = await asyncio.gather(*(s.sweep(params) for s in (a, b, a, b)))
        swept.extend(job_id for r in results for job_id in r.job_ids)
    assert sorted(swept) == sorted(ids)
    assert len(swept) == len(set(swept))
