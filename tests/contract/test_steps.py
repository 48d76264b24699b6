"""Long jobs in the store (`store.steps`) on every backend: step memos across attempts,
fenced step and checkpoint writes, the latest checkpoint winning, and the steps going
with their job."""

from __future__ import annotations

import pytest
from tests.contract.helpers import (
    LEASE,
    RETENTION,
    T0,
    StoreFactory,
    at,
    claim_one,
    lease_of,
    submit,
)

from lro.models import Completion, ErrorDetail, Failure, Lease
from lro.store import RescueParams, Store, SweepParams
from lro.store.steps import CheckpointWrite, Steps
from lro.store.types import CancelOutcome

ERROR = ErrorDetail("https://example.com/problems/x", "X", "x", "x", True, 1)


def steps_of(store: Store) -> Steps:
    if store.steps is None:
        # A backend difference by capability: without a long-jobs part (a third-party store)
        # the API answers 501 and the context raises LongJobsUnsupported.
        pytest.skip("this backend has no long-jobs part (Store.steps is None)")
    return store.steps


async def test_the_bundled_backends_have_long_jobs(stores: StoreFactory) -> None:
    """The skip in `steps_of` is for backends without the part; these three must have it."""
    store = await stores()
    assert stores.kind not in ("sqlite", "postgres", "redis") or store.steps is not None


async def lose_lease(store: Store, job_id: str) -> None:
    """The lease runs out and the rescuer takes the job back (the run counts)."""
    rescued = await store.rescue_expired(
        RescueParams(now=at(LEASE + 1), retention_seconds=RETENTION)
    )
    assert [j.id for j in rescued] == [job_id]


async def test_a_completed_step_is_remembered_for_the_next_attempt(store: Store) -> None:
    steps = steps_of(store)
    job = await submit(store, max_attempts=3)
    first = await claim_one(store)
    lease = lease_of(first)
    assert await steps.resume(job.id) == await steps.resume(job.id)
    assert not (await steps.resume(job.id)).found
    assert await steps.start_step(lease, "download", at(1))
    assert await steps.finish_step(lease, "download", {"rows": 3, "parts": ["a", "b"]}, at(2))
    assert await steps.start_step(lease, "parse", at(3))  # running when the worker dies
    await lose_lease(store, job.id)

    second = await claim_one(store, at(LEASE + 2))
    assert second.attempt == 2
    resume = await steps.resume(job.id)
    assert resume.completed == {"download": {"rows": 3, "parts": ["a", "b"]}}
    listed = await steps.list_steps(job.id)
    assert [(s.name, s.status, s.attempt) for s in listed] == [
        ("download", "completed", 1),
        ("parse", "running", 1),
    ]
    assert listed[0].started_at == at(1) and listed[0].finished_at == at(2)
    assert listed[1].finished_at is None

    lease2 = lease_of(second)
    assert await steps.start_step(lease2, "parse", at(LEASE + 3))
    assert await steps.finish_step(lease2, "parse", [1, 2, 3], at(LEASE + 4))
    listed = await steps.list_steps(job.id)
    assert [(s.name, s.status, s.attempt, s.result) for s in listed] == [
        ("download", "completed", 1, {"rows": 3, "parts": ["a", "b"]}),
        ("parse", "completed", 2, [1, 2, 3]),
    ]


async def test_a_completed_step_keeps_its_first_result(store: Store) -> None:
    steps = steps_of(store)
    await submit(store)
    lease = lease_of(await claim_one(store))
    assert await steps.finish_step(lease, "s", 1, at(1))
    assert await steps.start_step(lease, "s", at(2))  # never resets a completed step
    assert await steps.finish_step(lease, "s", 2, at(3))
    [record] = await steps.list_steps(lease.job_id)
    assert (record.status, record.result, record.finished_at) == ("completed", 1, at(1))


async def test_a_failed_step_is_recorded_and_runs_again(store: Store) -> None:
    steps = steps_of(store)
    await submit(store)
    lease = lease_of(await claim_one(store))
    assert await steps.start_step(lease, "upload", at(1))
    assert await steps.fail_step(lease, "upload", at(2))
    [record] = await steps.list_steps(lease.job_id)
    assert (record.status, record.finished_at) == ("failed", at(2))
    assert (await steps.resume(lease.job_id)).completed == {}
    assert await steps.start_step(lease, "upload", at(3))
    [record] = await steps.list_steps(lease.job_id)
    assert (record.status, record.started_at, record.finished_at) == ("running", at(3), None)


async def test_a_zombie_attempt_cannot_record_a_step_or_a_checkpoint(store: Store) -> None:
    steps = steps_of(store)
    job = await submit(store, max_attempts=3)
    zombie = lease_of(await claim_one(store))
    await lose_lease(store, job.id)
    successor = lease_of(await claim_one(store, at(LEASE + 2)))

    assert not await steps.start_step(zombie, "s", at(LEASE + 3))
    assert not await steps.finish_step(zombie, "s", "stale", at(LEASE + 3))
    assert not await steps.fail_step(zombie, "s", at(LEASE + 3))
    assert await steps.set_checkpoints([CheckpointWrite(zombie, 99)], at(LEASE + 3)) == [False]
    assert await steps.list_steps(job.id) == []
    assert not (await steps.resume(job.id)).found

    # The current attempt writes; the zombie still cannot overwrite it.
    assert await steps.finish_step(successor, "s", "fresh", at(LEASE + 4))
    assert not await steps.finish_step(zombie, "s", "stale", at(LEASE + 5))
    assert (await steps.resume(job.id)).completed == {"s": "fresh"}
    # A made-up token, and a job that ended, are refused too.
    assert not await steps.start_step(Lease(job.id, "not-a-token"), "t", at(LEASE + 6))
    (done,) = await store.complete_jobs([Completion(successor)], at(LEASE + 7), RETENTION)
    assert done is not None
    assert not await steps.finish_step(successor, "t", 1, at(LEASE + 8))


async def test_the_latest_checkpoint_wins_and_outlives_the_attempt(store: Store) -> None:
    steps = steps_of(store)
    a = await submit(store, max_attempts=3)
    b = await submit(store)
    lease_a = lease_of(await claim_one(store))
    lease_b = lease_of(await claim_one(store))
    writes = [
        CheckpointWrite(lease_a, {"offset": 10}),
        CheckpointWrite(lease_b, "b1"),
        CheckpointWrite(lease_a, {"offset": 20}),  # the last of a batch wins
    ]
    assert await steps.set_checkpoints(writes, at(1)) == [True, True, True]
    assert await steps.set_checkpoints([CheckpointWrite(lease_a, {"offset": 30})], at(2)) == [True]
    assert (await steps.resume(a.id)).checkpoint == {"offset": 30}
    assert (await steps.resume(b.id)).checkpoint == "b1"
    # A checkpoint of None is a stored value, not "no checkpoint".
    assert await steps.set_checkpoints([CheckpointWrite(lease_b, None)], at(3)) == [True]
    resume_b = await steps.resume(b.id)
    assert resume_b.found and resume_b.checkpoint is None

    (failed,) = await store.fail_jobs([Failure(lease_a, ERROR, retry_at=at(4))], at(3), RETENTION)
    assert failed is not None
    await claim_one(store, at(5))
    resume = await steps.resume(a.id)
    assert resume.found and resume.checkpoint == {"offset": 30}


async def test_checkpoints_write_no_event(store: Store) -> None:
    steps = steps_of(store)
    job = await submit(store)
    lease = lease_of(await claim_one(store))
    before = (await store.get_job(job.id)).version  # type: ignore[union-attr]
    assert await steps.set_checkpoints([CheckpointWrite(lease, 1)], at(1)) == [True]
    assert await steps.start_step(lease, "s", at(1))
    assert await steps.finish_step(lease, "s", None, at(1))
    after = await store.get_job(job.id)
    assert after is not None and after.version == before
    assert [e.version for e in await store.events_after(job.id, before)] == []


async def test_steps_and_checkpoints_go_with_their_job(store: Store) -> None:
    steps = steps_of(store)
    kept = await submit(store)
    gone = await submit(store)
    swept = await submit(store)
    leases = {j.id: lease_of(j) for j in [await claim_one(store) for _ in range(3)]}
    for job_id, lease in leases.items():
        assert await steps.finish_step(lease, "s", job_id, at(1))
        assert await steps.set_checkpoints([CheckpointWrite(lease, job_id)], at(1)) == [True]
    completions = [Completion(leases[j.id]) for j in (gone, swept)]
    await store.complete_jobs(completions, at(2), retention_seconds=10)
    deleted = await store.delete_job(gone.id)
    assert deleted is not None and deleted.deleted
    await store.sweep(SweepParams(now=at(100), batch_size=10, tombstone_seconds=60))
    for job_id in (gone.id, swept.id):
        assert await steps.list_steps(job_id) == []
        assert not (await steps.resume(job_id)).found
    assert (await steps.resume(kept.id)).completed == {"s": kept.id}


async def test_cancel_does_not_touch_steps(store: Store) -> None:
    steps = steps_of(store)
    job = await submit(store)
    lease = lease_of(await claim_one(store))
    assert await steps.finish_step(lease, "s", 1, T0)
    result = await store.request_cancel(job.id, at(1), RETENTION)
    assert result is not None and result.outcome is CancelOutcome.REQUESTED
    assert (await steps.resume(job.id)).completed == {"s": 1}
