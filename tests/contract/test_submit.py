"""insert_jobs and get_job: the stored row, and idempotency per (owner, key)."""

from __future__ import annotations

import asyncio

import pytest
from tests.contract.helpers import (
    RETENTION,
    T0,
    StoreFactory,
    at,
    claim,
    claim_one,
    current,
    event_kinds,
    lease_of,
    new_job,
    submit,
)

from lro.errors import KeyReused
from lro.models import Completion, Status
from lro.store import Store


async def test_insert_then_get_returns_the_stored_row(store: Store) -> None:
    nj = new_job(
        params={"rows": 3, "nested": {"a": [1, 2.5, None, "x"]}},
        owner="alice",
        priority=5,
        max_attempts=4,
        timeout_seconds=12.5,
        estimated_duration_seconds=90.0,
        callback_url="https://example.com/hook",
        idempotency_key="k1",
        request_fingerprint="fp1",
        idempotency_expires_at=at(86400),
    )
    (inserted,) = await store.insert_jobs([nj], T0)
    assert inserted.created
    job = inserted.job
    assert await store.get_job(nj.id) == job
    assert (job.id, job.operation, job.status, job.owner) == (nj.id, "op", Status.QUEUED, "alice")
    assert job.params == {"rows": 3, "nested": {"a": [1, 2.5, None, "x"]}}
    assert (job.priority, job.max_attempts, job.timeout_seconds) == (5, 4, 12.5)
    assert job.estimated_duration_seconds == 90.0
    assert job.callback_url == "https://example.com/hook"
    assert (job.idempotency_key, job.request_fingerprint) == ("k1", "fp1")
    assert (job.version, job.attempt, job.progress_pct, job.step) == (1, 0, 0.0, None)
    assert job.run_at == job.created_at == job.updated_at == T0
    assert job.created_at.utcoffset() is not None
    assert (job.started_at, job.finished_at, job.expires_at) == (None, None, None)
    assert (job.lease_token, job.lease_expires_at, job.worker_id) == (None, None, None)
    assert (job.result, job.result_ref, job.error, job.cancel_requested) == (
        None,
        None,
        None,
        False,
    )
    assert await event_kinds(store, nj.id) == [(1, "status")]


async def test_insert_keeps_order_and_explicit_run_at(store: Store) -> None:
    jobs = [new_job(), new_job(run_at=at(60)), new_job(params=None)]
    inserted = await store.insert_jobs(jobs, T0)
    assert [i.job.id for i in inserted] == [j.id for j in jobs]
    assert all(i.created for i in inserted)
    assert inserted[1].job.run_at == at(60)
    assert (await current(store, jobs[2].id)).params is None


async def test_get_unknown_job_is_none(store: Store) -> None:
    assert await store.get_job("00000000-0000-4000-8000-000000000000") is None
    assert await store.insert_jobs([], T0) == []


async def test_same_key_returns_the_first_job(store: Store) -> None:
    first = await submit(
        store, idempotency_key="k", request_fingerprint="a", idempotency_expires_at=at(100)
    )
    (again,) = await store.insert_jobs(
        [new_job(idempotency_key="k", request_fingerprint="a", idempotency_expires_at=at(200))],
        at(50),
    )
    assert not again.created
    assert again.job == await current(store, first.id)


async def test_same_key_for_another_request_stores_nothing_of_the_batch(store: Store) -> None:
    first = await submit(
        store, idempotency_key="k", request_fingerprint="a", idempotency_expires_at=at(100)
    )
    fresh = new_job(
        idempotency_key="other", request_fingerprint="x", idempotency_expires_at=at(200)
    )
    plain = new_job()
    reused = new_job(idempotency_key="k", request_fingerprint="b", idempotency_expires_at=at(200))
    with pytest.raises(KeyReused) as raised:
        await store.insert_jobs([fresh, plain, reused], at(50))
    assert raised.value.job_id == first.id
    for job in (fresh, plain, reused):
        assert await store.get_job(job.id) is None
    assert await current(store, first.id) == first


async def test_keys_are_scoped_per_owner(store: Store) -> None:
    a = await submit(store, owner="alice", idempotency_key="k", idempotency_expires_at=at(100))
    b = await submit(store, owner="bob", idempotency_key="k", idempotency_expires_at=at(100))
    assert a.id != b.id


async def test_same_key_twice_in_one_batch_makes_one_job(store: Store) -> None:
    jobs = [new_job(idempotency_key="k", idempotency_expires_at=at(100)) for _ in range(2)]
    first, second = await store.insert_jobs(jobs, T0)
    assert first.created and not second.created
    assert second.job.id == first.job.id == jobs[0].id
    assert await store.get_job(jobs[1].id) is None


async def test_expired_key_is_released_to_a_new_job(store: Store) -> None:
    old = await submit(store, idempotency_key="k", idempotency_expires_at=at(100))
    (fresh,) = await store.insert_jobs(
        [new_job(idempotency_key="k", idempotency_expires_at=at(300))], at(100)
    )
    assert fresh.created and fresh.job.id != old.id
    still = await current(store, old.id)
    assert still.status is Status.QUEUED and still.idempotency_key is None
    (replay,) = await store.insert_jobs([new_job(idempotency_key="k")], at(200))
    assert not replay.created and replay.job.id == fresh.job.id


async def test_key_of_an_expired_job_is_released(store: Store) -> None:
    old = await submit(store, idempotency_key="k", idempotency_expires_at=at(10_000))
    job = await claim_one(store, at(1))
    (done,) = await store.complete_jobs([Completion(lease_of(job), result=1)], at(2), 100.0)
    assert done is not None and done.expires_at == at(102)
    (before,) = await store.insert_jobs([new_job(idempotency_key="k")], at(101))
    assert not before.created and before.job.id == old.id
    (after,) = await store.insert_jobs([new_job(idempotency_key="k")], at(102))
    assert after.created and after.job.id != old.id


async def test_deleted_job_releases_its_key(store: Store) -> None:
    old = await submit(store, idempotency_key="k", idempotency_expires_at=at(10_000))
    await store.request_cancel(old.id, at(1), RETENTION)
    assert await store.delete_job(old.id) is not None
    (fresh,) = await store.insert_jobs([new_job(idempotency_key="k")], at(2))
    assert fresh.created


async def test_concurrent_duplicates_make_exactly_one_job(store: Store) -> None:
    batches = [[new_job(idempotency_key="race", idempotency_expires_at=at(100))] for _ in range(32)]
    results = await asyncio.gather(*(store.insert_jobs(b, T0) for b in batches))
    outcomes = [r[0] for r in results]
    assert sum(o.created for o in outcomes) == 1
    assert len({o.job.id for o in outcomes}) == 1


async def test_concurrent_duplicates_across_processes_make_one_job(stores: StoreFactory) -> None:
    """Two stores on one database stand in for two API processes."""
    a, b = await stores(), await stores()
    calls = [
        s.insert_jobs([new_job(idempotency_key="race", idempotency_expires_at=at(100))], T0)
        for _ in range(16)
        for s in (a, b)
    ]
    outcomes = [r[0] for r in await asyncio.gather(*calls)]
    assert sum(o.created for o in outcomes) == 1
    assert len({o.job.id for o in outcomes}) == 1


async def test_a_batch_that_frees_a_stale_key_is_still_claimed_in_batch_order(
    store: Store,
) -> None:
    """Found by the model-based test: on PostgreSQL the job that took over a stale key
    was inserted after the rest of its batch, so equal jobs of one batch were claimed out
    of order. The batch's order is the claim's last tie-breaker, on every backend."""
    await submit(store, idempotency_key="k", idempotency_expires_at=at(10))
    await claim(store, 1)  # the holder is out of the way of the next claim
    batch = [
        new_job(idempotency_key="k", idempotency_expires_at=at(100)),
        new_job(),
        new_job(idempotency_key="k2", idempotency_expires_at=at(100)),
    ]
    inserted = await store.insert_jobs(batch, at(20))
    assert [(i.job.id, i.created) for i in inserted] == [(j.id, True) for j in batch]
    claimed = await claim(store, 10, at(20))
    assert [j.id for j in claimed] == [j.id for j in batch]


async def test_the_submits_trace_context_is_stored_and_claimed_with_the_job(store: Store) -> None:
    """`lro.tracing` stores the submit's W3C context; every attempt's spans read it back."""
    context = '{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}'
    job = await submit(store, trace_context=context)
    assert job.trace_context == context
    stored = await store.get_job(job.id)
    assert stored is not None and stored.trace_context == context
    claimed = await claim_one(store, at(1))
    assert claimed.trace_context == context
    plain = await submit(store, at(2))
    assert plain.trace_context is None
    got = await store.get_job(plain.id)
    assert got is not None and got.trace_context is None
