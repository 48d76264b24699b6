"""Batches (HTTP-CONTRACT §17) on every backend: stored whole or not at all, counted, one
`batch.completed` delivery when the last job ends, idempotent by key."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from tests.contract.helpers import RETENTION, T0, StoreFactory, at, claim, lease_of, new_job, submit

from lro.errors import KeyReused
from lro.models import Completion, ErrorDetail, Failure, ProgressUpdate, Status
from lro.store import NewBatch, Store
from lro.store.base import Batches

pytestmark = pytest.mark.usefixtures("needs_flows")


URL = "https://example.com/hook"


def _batches(store: Store) -> Batches:
    assert store.batches is not None
    return store.batches


def new_batch(n: int, **fields: object) -> NewBatch:
    batch_id = str(uuid.uuid4())
    owner = str(fields.pop("owner", ""))
    jobs = [new_job(batch_id=batch_id, owner=owner, params={"i": i}) for i in range(n)]
    return NewBatch(id=batch_id, owner=owner, jobs=jobs, **fields)  # type: ignore[arg-type]


async def test_a_batch_stores_its_jobs_in_order_and_counts_them(store: Store) -> None:
    batch = new_batch(5, owner="alice", callback_url=URL)
    got = await _batches(store).insert_batch(batch, T0)
    assert got.created and got.batch.id == batch.id and got.batch.owner == "alice"
    assert [j.id for j in got.jobs] == [j.id for j in batch.jobs]
    assert all(j.batch_id == batch.id and j.status is Status.QUEUED for j in got.jobs)
    b = got.batch
    assert (b.total, b.unfinished, b.counts, b.progress_pct) == (5, 5, {Status.QUEUED: 5}, 0)
    assert b.status is Status.QUEUED and b.created_at == T0 and b.finished_at is None
    listed = await _batches(store).batch_jobs(batch.id)
    assert [j.params for j in listed] == [{"i": i} for i in range(5)]
    stored = await store.get_job(batch.jobs[0].id)
    assert stored is not None and stored.batch_id == batch.id
    assert await _batches(store).get_batch("nope") is None


async def test_a_batch_is_all_or_nothing(store: Store) -> None:
    taken = await submit(store)
    batch = new_batch(3)
    clash = NewBatch(
        id=batch.id,
        owner="",
        jobs=[batch.jobs[0], new_job(id=taken.id, batch_id=batch.id), batch.jobs[2]],
    )
    with pytest.raises(Exception):  # noqa: B017 - the driver's own integrity error
        await _batches(store).insert_batch(clash, T0)
    assert await _batches(store).get_batch(batch.id) is None
    assert await store.get_job(batch.jobs[0].id) is None
    assert await _batches(store).insert_batch(batch, T0)  # the ids are free to use


async def test_counts_progress_and_one_completion_delivery(store: Store) -> None:
    batch = new_batch(4, callback_url=URL)
    await _batches(store).insert_batch(batch, T0)
    running = await claim(store, 3, at(1))
    b = await _batches(store).get_batch(batch.id)
    assert b is not None and b.status is Status.PROCESSING
    assert b.counts == {Status.QUEUED: 1, Status.PROCESSING: 3}
    await store.set_progress([ProgressUpdate(lease_of(running[0]), 50, "half")], at(2))
    await store.complete_jobs([Completion(lease_of(running[1]))], at(3), RETENTION)
    error = ErrorDetail("about:blank", "Bad", "d", "bad", False, 1)
    await store.fail_jobs([Failure(lease_of(running[2]), error)], at(4), RETENTION)
    b = await _batches(store).get_batch(batch.id)
    assert b is not None and b.unfinished == 2
    assert b.counts == {
        Status.QUEUED: 1,
        Status.PROCESSING: 1,
        Status.COMPLETED: 1,
        Status.FAILED: 1,
    }
    assert b.progress_pct == 62.5  # (50 + 100 + 100 + 0) / 4
    for job in batch.jobs:
        assert [d for d in await store.outbox.list_deliveries(job.id)] == []
    queued = next(j for j in batch.jobs if j.id not in {r.id for r in running})
    await store.request_cancel(queued.id, at(5), RETENTION)
    await store.complete_jobs([Completion(lease_of(running[0]))], at(6), RETENTION)
    b = await _batches(store).get_batch(batch.id)
    assert b is not None and b.status is Status.COMPLETED and b.unfinished == 0
    assert b.progress_pct == 100 and b.finished_at == at(6)
    assert b.expires_at == at(6 + RETENTION)
    sent = [d for j in batch.jobs for d in await store.outbox.list_deliveries(j.id)]
    assert [(d.job_id, d.event_type, d.url) for d in sent] == [
        (running[0].id, "batch.completed", URL)
    ]
    assert sent[0].event_at == at(6)


async def test_no_delivery_without_a_callback_url(store: Store) -> None:
    batch = new_batch(2)
    await _batches(store).insert_batch(batch, T0)
    for job in batch.jobs:
        await store.request_cancel(job.id, at(1), RETENTION)
    b = await _batches(store).get_batch(batch.id)
    assert b is not None and b.status is Status.COMPLETED
    assert b.counts == {Status.CANCELLED: 2}
    for job in batch.jobs:
        assert await store.outbox.list_deliveries(job.id) == []


async def test_the_last_two_jobs_ending_at_once_make_one_delivery(stores: StoreFactory) -> None:
    a, b = await stores(), await stores()
    batch = new_batch(40, callback_url=URL)
    await _batches(a).insert_batch(batch, T0)
    running = await claim(a, 40, at(1))
    half = len(running) // 2

    async def finish(store: Store, jobs: list[object]) -> None:
        for job in jobs:
            await store.complete_jobs([Completion(lease_of(job))], at(2), RETENTION)  # type: ignore[arg-type]

    await asyncio.gather(finish(a, list(running[:half])), finish(b, list(running[half:])))
    sent = [d for j in batch.jobs for d in await a.outbox.list_deliveries(j.id)]
    assert [d.event_type for d in sent] == ["batch.completed"]
    got = await _batches(b).get_batch(batch.id)
    assert got is not None and got.unfinished == 0 and got.counts == {Status.COMPLETED: 40}


async def test_idempotency_key_replays_refuses_or_is_released(store: Store) -> None:
    first = new_batch(
        2, idempotency_key="k", request_fingerprint="fp", idempotency_expires_at=at(60)
    )
    made = await _batches(store).insert_batch(first, T0)
    again = new_batch(
        2, idempotency_key="k", request_fingerprint="fp", idempotency_expires_at=at(70)
    )
    replay = await _batches(store).insert_batch(again, at(1))
    assert not replay.created and replay.batch.id == first.id
    assert [j.id for j in replay.jobs] == [j.id for j in made.jobs]
    assert await store.get_job(again.jobs[0].id) is None
    other = new_batch(
        1, idempotency_key="k", request_fingerprint="fp2", idempotency_expires_at=at(70)
    )
    with pytest.raises(KeyReused):
        await _batches(store).insert_batch(other, at(2))
    assert await _batches(store).get_batch(other.id) is None
    assert await store.get_job(other.jobs[0].id) is None
    # Another owner's key is another key.
    theirs = new_batch(1, owner="bob", idempotency_key="k", request_fingerprint="x")
    assert (await _batches(store).insert_batch(theirs, at(3))).created
    # Once the key's window has passed, it is free for a new batch.
    late = new_batch(
        1, idempotency_key="k", request_fingerprint="fp3", idempotency_expires_at=at(200)
    )
    got = await _batches(store).insert_batch(late, at(61))
    assert got.created and got.batch.id == late.id


async def test_concurrent_duplicate_batches_make_one(stores: StoreFactory) -> None:
    many = [await stores() for _ in range(4)]
    attempts = [
        new_batch(
            3, idempotency_key="same", request_fingerprint="fp", idempotency_expires_at=at(60)
        )
        for _ in range(8)
    ]
    results = await asyncio.gather(
        *(_batches(many[i % 4]).insert_batch(b, T0) for i, b in enumerate(attempts))
    )
    assert sum(r.created for r in results) == 1
    assert len({r.batch.id for r in results}) == 1
    assert len({tuple(j.id for j in r.jobs) for r in results}) == 1


async def test_expired_batches_are_swept(store: Store) -> None:
    batch = new_batch(1)
    await _batches(store).insert_batch(batch, T0)
    await store.request_cancel(batch.jobs[0].id, at(1), 10.0)
    assert await _batches(store).sweep_batches(at(5), 100) == 0
    assert await _batches(store).sweep_batches(at(11), 100) == 1
    assert await _batches(store).get_batch(batch.id) is None
