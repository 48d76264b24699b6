"""job_counts: the jobs `list_jobs` would show, counted per operation and status."""

from __future__ import annotations

from tests.contract.helpers import RETENTION, at, claim_one, submit

from lro.models import Status
from lro.store import JobCount, Store


async def test_counts_per_operation_and_status_in_order(store: Store) -> None:
    await submit(store, at(0), operation="b.op", owner="alice")
    await submit(store, at(1), operation="a.op", owner="alice")
    await submit(store, at(2), operation="b.op", owner="alice")
    running = await claim_one(store, at(3), operations=["a.op"])
    queued = await submit(store, at(4), operation="a.op", owner="alice")
    await store.request_cancel(queued.id, at(5), RETENTION)

    assert running.operation == "a.op"
    assert await store.job_counts("alice", at(6)) == [
        JobCount("a.op", Status.CANCELLED, 1),
        JobCount("a.op", Status.PROCESSING, 1),
        JobCount("b.op", Status.QUEUED, 2),
    ]


async def test_counts_are_scoped_to_their_owner_and_none_is_everyone(store: Store) -> None:
    for owner in ("alice", "alice", "bob"):
        await submit(store, at(0), operation="op", owner=owner)

    assert await store.job_counts("alice", at(1)) == [JobCount("op", Status.QUEUED, 2)]
    assert await store.job_counts("bob", at(1)) == [JobCount("op", Status.QUEUED, 1)]
    assert await store.job_counts("carol", at(1)) == []
    assert await store.job_counts(None, at(1)) == [JobCount("op", Status.QUEUED, 3)]


async def test_expired_jobs_are_not_counted(store: Store) -> None:
    job = await submit(store, at(0), owner="alice")
    await submit(store, at(1), owner="alice")
    await store.request_cancel(job.id, at(2), 10)  # expires at 12

    assert await store.job_counts("alice", at(11)) == [
        JobCount("op", Status.CANCELLED, 1),
        JobCount("op", Status.QUEUED, 1),
    ]
    assert await store.job_counts("alice", at(12)) == [JobCount("op", Status.QUEUED, 1)]
    assert await store.job_counts(None, at(12)) == [JobCount("op", Status.QUEUED, 1)]


async def test_an_empty_store_counts_nothing(store: Store) -> None:
    assert await store.job_counts(None, at(0)) == []
    assert await store.job_counts("", at(0)) == []
