"""Partials, retry and bulk selection in the store (`store.steps`) on every backend:
partials in order, each one version and one `partial` event, fenced, readable by seq and
by version, gone with their job; the retry state machine (failed/cancelled -> queued,
one more attempt when used up, steps kept, a new delivery at the next end); and the
filter of a bulk action."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.contract.helpers import (
    LEASE,
    RETENTION,
    StoreFactory,
    at,
    claim_one,
    current,
    event_kinds,
    lease_of,
    submit,
)

from lro.models import Completion, ErrorDetail, Failure, Status
from lro.store import RescueParams, Store, SweepParams
from lro.store.capabilities import has_flows
from lro.store.steps import JobFilter, PartialWrite, RetryOutcome, Steps

ERROR = ErrorDetail("https://example.com/problems/x", "X", "x", "x", False, 1)


def steps_of(store: Store) -> Steps:
    if store.steps is None:
        # A backend difference by capability: without a long-jobs part (a third-party store)
        # the API answers 501 and the context raises LongJobsUnsupported.
        pytest.skip("this backend has no long-jobs part (Store.steps is None)")
    return store.steps


async def test_partials_keep_their_order_and_each_is_one_event(store: Store) -> None:
    steps = steps_of(store)
    job = await submit(store)
    other = await submit(store)
    lease, lease2 = lease_of(await claim_one(store)), lease_of(await claim_one(store))
    writes = [
        PartialWrite(lease, [{"row": 1}, "two"]),
        PartialWrite(lease2, [[1, 2]]),
        PartialWrite(lease, [None]),
    ]
    assert await steps.append_partials(writes, at(1)) == [True, True, True]
    found = await steps.partials(job.id, 0, 100)
    assert [(p.seq, p.data) for p in found] == [(1, {"row": 1}), (2, "two"), (3, None)]
    assert [p.version for p in found] == [3, 4, 5]  # after insert (1) and claim (2)
    assert all(p.created_at == at(1) for p in found)
    assert await event_kinds(store, job.id) == [
        (1, "status"),
        (2, "status"),
        (3, "partial"),
        (4, "partial"),
        (5, "partial"),
    ]
    stored = await current(store, job.id)
    assert stored.version == 5 and stored.status is Status.PROCESSING
    assert stored.progress_pct == 0 and stored.updated_at == at(1)
    assert [(p.seq, p.data) for p in await steps.partials(other.id, 0, 100)] == [(1, [1, 2])]
    # Paging by seq, and reading by version (event id).
    assert [p.seq for p in await steps.partials(job.id, 1, 1)] == [2]
    assert [p.seq for p in await steps.partials(job.id, 3, 10)] == []
    assert [p.data for p in await steps.partials_at(job.id, [5, 3, 99])] == [{"row": 1}, None]


async def test_resume_counts_the_partials_text(store: Store) -> None:
    steps = steps_of(store)
    job = await submit(store)
    lease = lease_of(await claim_one(store))
    assert (await steps.resume(job.id)).partial_bytes == 0
    assert await steps.append_partials([PartialWrite(lease, ["abc", 12345])], at(1)) == [True]
    assert (await steps.resume(job.id)).partial_bytes == len('"abc"') + len("12345")


async def test_partials_are_fenced(store: Store) -> None:
    steps = steps_of(store)
    job = await submit(store, max_attempts=3)
    zombie = lease_of(await claim_one(store))
    await store.rescue_expired(RescueParams(now=at(LEASE + 1), retention_seconds=RETENTION))
    version = (await current(store, job.id)).version
    assert await steps.append_partials([PartialWrite(zombie, ["late"])], at(LEASE + 2)) == [False]
    assert await steps.partials(job.id, 0, 10) == []
    assert (await current(store, job.id)).version == version


async def test_partials_continue_their_sequence_in_the_next_attempt(store: Store) -> None:
    steps = steps_of(store)
    job = await submit(store, max_attempts=3)
    first = lease_of(await claim_one(store))
    assert await steps.append_partials([PartialWrite(first, ["a", "b"])], at(1)) == [True]
    await store.fail_jobs([Failure(first, ERROR, retry_at=at(2))], at(1), RETENTION)
    second = lease_of(await claim_one(store, at(3)))
    assert await steps.append_partials([PartialWrite(second, ["c"])], at(4)) == [True]
    assert [(p.seq, p.data) for p in await steps.partials(job.id, 0, 10)] == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]


async def test_partials_are_seen_by_another_process(stores: StoreFactory) -> None:
    writer, reader = await stores(), await stores()
    job = await submit(writer)
    lease = lease_of(await claim_one(writer))
    assert await steps_of(writer).append_partials([PartialWrite(lease, [1, 2])], at(1)) == [True]
    assert [p.data for p in await steps_of(reader).partials(job.id, 0, 10)] == [1, 2]
    assert [e.kind for e in await reader.events_after(job.id, 2)] == ["partial", "partial"]


async def test_partials_go_with_their_job(store: Store) -> None:
    steps = steps_of(store)
    deleted, swept = await submit(store), await submit(store)
    for _ in (deleted, swept):
        lease = lease_of(await claim_one(store))
        assert await steps.append_partials([PartialWrite(lease, ["x"])], at(1)) == [True]
        await store.complete_jobs([Completion(lease)], at(2), retention_seconds=10)
    result = await store.delete_job(deleted.id)
    assert result is not None and result.deleted
    await store.sweep(SweepParams(now=at(100), batch_size=10, tombstone_seconds=60))
    for job in (deleted, swept):
        assert await steps.partials(job.id, 0, 10) == []


async def test_retry_requeues_a_failed_job_and_keeps_its_steps(store: Store) -> None:
    steps = steps_of(store)
    job = await submit(store, max_attempts=1, callback_url="https://example.com/hook")
    lease = lease_of(await claim_one(store))
    assert await steps.finish_step(lease, "first", 1, at(1))
    [failed] = await store.fail_jobs([Failure(lease, ERROR)], at(2), RETENTION)
    assert failed is not None and failed.status is Status.FAILED

    retried = await steps.retry_job(job.id, at(3))
    assert retried is not None and retried.outcome is RetryOutcome.RETRIED
    again = retried.job
    assert again.status is Status.QUEUED and again.version == failed.version + 1
    assert (again.error, again.expires_at, again.finished_at, again.result) == (
        None,
        None,
        None,
        None,
    )
    assert (again.attempt, again.max_attempts, again.run_at) == (1, 2, at(3))
    assert (await event_kinds(store, job.id))[-1] == (again.version, "status")
    assert (await steps.resume(job.id)).completed == {"first": 1}

    second = await claim_one(store, at(4))
    assert second.attempt == 2
    await store.complete_jobs([Completion(lease_of(second), result="ok")], at(5), RETENTION)
    kinds = [d.event_type for d in await store.outbox.list_deliveries(job.id)]
    assert kinds == ["job.failed", "job.completed"]  # the webhook fires again


async def test_retry_of_a_cancelled_job_clears_the_cancel(store: Store) -> None:
    steps = steps_of(store)
    job = await submit(store)
    await store.request_cancel(job.id, at(1), RETENTION)
    retried = await steps.retry_job(job.id, at(2))
    assert retried is not None and retried.outcome is RetryOutcome.RETRIED
    assert retried.job.status is Status.QUEUED and not retried.job.cancel_requested
    assert retried.job.max_attempts == 3  # attempts left: none added
    claimed = await claim_one(store, at(3))
    assert claimed.id == job.id and claimed.attempt == 1


async def test_retry_refuses_active_completed_expired_and_unknown_jobs(store: Store) -> None:
    steps = steps_of(store)
    job = await submit(store)
    for expected in (Status.QUEUED, Status.PROCESSING, Status.COMPLETED):
        if expected is Status.PROCESSING:
            lease = lease_of(await claim_one(store))
        if expected is Status.COMPLETED:
            await store.complete_jobs([Completion(lease)], at(1), retention_seconds=10)
        result = await steps.retry_job(job.id, at(2))
        assert result is not None and result.outcome is RetryOutcome.CONFLICT
        assert result.job.status is expected
    assert await steps.retry_job("no-such-job", at(2)) is None

    expired = await submit(store)
    lease = lease_of(await claim_one(store))
    await store.fail_jobs([Failure(lease, ERROR)], at(1), retention_seconds=10)
    result = await steps.retry_job(expired.id, at(20))  # past expires_at
    assert result is not None and result.outcome is RetryOutcome.CONFLICT
    assert result.job.status is Status.FAILED


async def test_select_jobs_filters_and_scopes(store: Store) -> None:
    steps = steps_of(store)
    a1 = await submit(store, at(1), owner="alice", operation="x")
    a2 = await submit(store, at(2), owner="alice", operation="y")
    a3 = await submit(store, at(3), owner="alice", operation="x")
    b1 = await submit(store, at(4), owner="bob", operation="x")
    await store.request_cancel(a3.id, at(5), RETENTION)

    async def ids(**where: object) -> list[str]:
        return await steps.select_jobs(JobFilter(**where), at(6), 100)  # type: ignore[arg-type]

    assert await ids(owner="alice") == [a1.id, a2.id, a3.id]
    assert await ids(owner=None) == [a1.id, a2.id, a3.id, b1.id]
    assert await ids(owner="alice", operation="x") == [a1.id, a3.id]
    assert await ids(owner="alice", statuses=[Status.CANCELLED]) == [a3.id]
    assert await ids(owner="alice", statuses=[Status.QUEUED, Status.CANCELLED]) == [
        a1.id,
        a2.id,
        a3.id,
    ]
    assert await ids(owner=None, created_after=at(1), created_before=at(4)) == [a2.id, a3.id]
    assert await ids(owner="alice", exclude=a2.id) == [a1.id, a3.id]
    assert await steps.select_jobs(JobFilter(owner=None), at(6), 2) == [a1.id, a2.id]
    # Expired jobs are gone for clients: not selected.
    later = at(5) + timedelta(seconds=RETENTION + 1)
    assert await steps.select_jobs(JobFilter(owner="alice"), later, 100) == [a1.id, a2.id]
    if has_flows(store):  # jobs carry tags only where the store keeps them (§15)
        t1 = await submit(store, at(5.1), owner="alice", tags=("nightly", "eu"))
        t2 = await submit(store, at(5.2), owner="bob", tags=("nightly",))
        assert await ids(owner="alice", tag="nightly") == [t1.id]
        assert await ids(owner=None, tag="nightly") == [t1.id, t2.id]
        assert await ids(owner=None, tag="eu", operation="x") == []
