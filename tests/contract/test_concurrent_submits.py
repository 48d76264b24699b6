"""Concurrent submits (the group commit of the SQLite writer, and every backend alike):
each submitter gets its own job, one that fails takes nothing of the others with it, and
idempotency holds among concurrent duplicates."""

from __future__ import annotations

import asyncio

from tests.contract.helpers import T0, at, current, event_kinds, new_job, submit

from lro.errors import KeyReused
from lro.models import Inserted, NewJob, Status
from lro.store import Store


async def test_concurrent_submitters_each_get_their_own_job(store: Store) -> None:
    jobs = [new_job(params={"i": i}) for i in range(40)]
    results = await asyncio.gather(*(store.insert_jobs([j], T0) for j in jobs))
    assert [r[0].job.id for r in results] == [j.id for j in jobs]
    for nj, (inserted,) in zip(jobs, results, strict=True):
        assert inserted.created
        stored = await current(store, nj.id)
        assert stored == inserted.job
        assert (stored.params, stored.status) == (nj.params, Status.QUEUED)
        assert await event_kinds(store, nj.id) == [(1, "status")]


async def test_a_failing_submit_among_concurrent_ones_fails_alone(store: Store) -> None:
    holder = await submit(
        store, idempotency_key="k", request_fingerprint="fp1", idempotency_expires_at=at(100)
    )
    before = [new_job(params={"i": i}) for i in range(10)]
    after = [new_job(params={"i": i}) for i in range(10, 20)]
    # One call of two jobs: the first is fine, the second reuses the key for another
    # request. The call fails as a whole (its first job too); the calls around it do not.
    doomed = new_job(params={"doomed": True})
    clash = new_job(idempotency_key="k", request_fingerprint="fp2", idempotency_expires_at=at(100))
    calls = [
        *(store.insert_jobs([j], at(1)) for j in before),
        store.insert_jobs([doomed, clash], at(1)),
        *(store.insert_jobs([j], at(1)) for j in after),
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    failed = results[len(before)]
    assert isinstance(failed, KeyReused)
    others = results[: len(before)] + results[len(before) + 1 :]
    for nj, result in zip(before + after, others, strict=True):
        assert isinstance(result, list), result
        assert result[0].created and result[0].job.id == nj.id
        assert (await current(store, nj.id)).params == nj.params
    assert await store.get_job(doomed.id) is None
    assert await store.get_job(clash.id) is None
    assert (await current(store, holder.id)).version == 1


async def test_concurrent_duplicates_with_other_requests_between_them(store: Store) -> None:
    """Same key: same request (fp1) or another (fp2), with unrelated submits between.
    Exactly one job holds the key; every same-request duplicate gets it; a different
    request is refused; the unrelated submits are all stored."""
    calls: list[tuple[str, NewJob]] = []
    for i in range(24):
        if i % 3 == 2:
            calls.append(("plain", new_job(params={"i": i})))
        else:
            fp = "fp1" if i % 3 == 0 else "fp2"
            nj = new_job(
                idempotency_key="dup", request_fingerprint=fp, idempotency_expires_at=at(100)
            )
            calls.append((fp, nj))
    results = await asyncio.gather(
        *(store.insert_jobs([nj], T0) for _, nj in calls),
        return_exceptions=True,
    )
    keyed = [(kind, r) for (kind, _), r in zip(calls, results, strict=True) if kind != "plain"]
    inserted = [(kind, r[0]) for kind, r in keyed if isinstance(r, list)]
    created = [(kind, i) for kind, i in inserted if i.created]
    assert len(created) == 1
    winner_kind, winner = created[0]
    assert all(isinstance(i, Inserted) and i.job.id == winner.job.id for _, i in inserted)
    assert all(kind == winner_kind for kind, _ in inserted)
    refused = [(kind, r) for kind, r in keyed if not isinstance(r, list)]
    assert refused and all(isinstance(r, KeyReused) and kind != winner_kind for kind, r in refused)
    assert len(inserted) + len(refused) == len(keyed)
    for (kind, nj), r in zip(calls, results, strict=True):
        if kind == "plain":
            assert isinstance(r, list) and r[0].created
            assert (await current(store, nj.id)).params == nj.params
