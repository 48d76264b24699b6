"""What the verbs answer for themselves, so callers need no second look: the outcome of a
cancel, whether a delete deleted, what a submit's answer shows, and when a rescued job
may run again under the caller's retry policy."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from tests.contract.helpers import (
    LEASE,
    RETENTION,
    T0,
    StoreFactory,
    at,
    claim_one,
    current,
    lease_of,
    new_job,
    submit,
)

from lro.models import Completion, ErrorDetail, Failure, Job, Status
from lro.retry import RetryPolicy
from lro.store import (
    CancelOutcome,
    CancelResult,
    ClaimParams,
    DeleteResult,
    RescueParams,
    Store,
)
from lro.store.base import HandoffSubscription

WAIT = 10.0
ERROR = ErrorDetail("https://example.com/problems/x", "X", "x", "x", False, 1)


async def test_cancel_answers_finished_for_every_terminal_status(store: Store) -> None:
    completed = await submit(store)
    await store.complete_jobs([Completion(lease_of(await claim_one(store)))], at(1), RETENTION)
    failed = await submit(store)
    await store.fail_jobs([Failure(lease_of(await claim_one(store)), ERROR)], at(2), RETENTION)
    cancelled = await submit(store)
    await store.request_cancel(cancelled.id, at(3), RETENTION)
    for job in (completed, failed, cancelled):
        before = await current(store, job.id)
        assert before.is_terminal
        answer = await store.request_cancel(job.id, at(4), RETENTION)
        assert answer == CancelResult(before, CancelOutcome.FINISHED)
        assert await current(store, job.id) == before  # nothing written


async def test_cancel_answers_what_it_did_to_an_active_job(store: Store) -> None:
    queued = await submit(store)
    answer = await store.request_cancel(queued.id, at(1), RETENTION)
    assert answer == CancelResult(await current(store, queued.id), CancelOutcome.CANCELLED)
    assert answer.job.status is Status.CANCELLED

    await submit(store)
    running = await claim_one(store, at(2))
    answer = await store.request_cancel(running.id, at(3), RETENTION)
    assert answer == CancelResult(await current(store, running.id), CancelOutcome.REQUESTED)
    assert (answer.job.status, answer.job.cancel_requested) == (Status.PROCESSING, True)


async def test_delete_answers_whether_it_deleted(store: Store) -> None:
    queued = await submit(store)
    assert await store.delete_job(queued.id) == DeleteResult(queued, deleted=False)
    await submit(store)
    running = await claim_one(store, at(1))
    assert await store.delete_job(running.id) == DeleteResult(running, deleted=False)
    assert await current(store, running.id) == running

    [done] = await store.complete_jobs([Completion(lease_of(running))], at(2), RETENTION)
    assert done is not None
    assert await store.delete_job(running.id) == DeleteResult(done, deleted=True)
    assert await store.get_job(running.id) is None
    assert await store.delete_job(running.id) is None


async def test_a_submit_accepts_the_job_it_stores(store: Store) -> None:
    keyed = new_job(idempotency_key="k", request_fingerprint="fp")
    (created,) = await store.insert_jobs([keyed], T0)
    assert created.created and created.accepted == created.job
    assert created.job == await current(store, keyed.id)
    (replayed,) = await store.insert_jobs([dataclasses.replace(keyed, id=new_job().id)], at(1))
    assert not replayed.created and replayed.accepted == replayed.job == created.job


async def _parked(store: Store, worker_id: str, received: list[Job | str]) -> None:
    """Subscribe `worker_id` for hand-offs and park it (once the store's notification
    session is up, which a listener starts), waiting at most WAIT."""
    handoffs = store.handoffs
    assert handoffs is not None
    store.add_listener(lambda change: None)
    handoffs.subscribe(worker_id, HandoffSubscription(received.append, lambda: None))
    async with asyncio.timeout(WAIT):
        while True:
            jobs, parked = await handoffs.claim_or_park(ClaimParams(worker_id, 5, LEASE, T0))
            assert jobs == []
            if parked:
                return
            await asyncio.sleep(0.01)


async def test_a_handed_off_submit_accepts_version_1(stores: StoreFactory) -> None:
    worker, api = await stores(), await stores()
    if worker.handoffs is None:
        pytest.skip("no hand-off on this backend (SQLite: a submit wakes the claim loop)")
    received: list[Job | str] = []
    await _parked(worker, "host:1:w", received)

    (inserted,) = await api.insert_jobs([new_job()], at(1))
    stored = inserted.job
    assert inserted.created and stored == await current(api, stored.id)
    assert (stored.status, stored.version, stored.worker_id) == (
        Status.PROCESSING,
        2,
        "host:1:w",
    )
    # The answer is the receipt of the submit: the job as accepted, version 1, queued,
    # exactly as its first event records it.
    assert inserted.accepted == dataclasses.replace(
        stored,
        status=Status.QUEUED,
        version=1,
        attempt=0,
        started_at=None,
        lease_token=None,
        lease_expires_at=None,
        worker_id=None,
    )
    first = (await api.events_after(stored.id, 0))[0]
    assert (first.version, first.status, first.attempt) == (1, Status.QUEUED, 0)


async def test_rescue_waits_each_operations_own_backoff(store: Store) -> None:
    policy = RetryPolicy(base_seconds=1000, max_seconds=1500, per_operation={"quick": 0})
    quick = await submit(store, operation="quick", max_attempts=3)
    slow = await submit(store, operation="slow", max_attempts=3)
    for job in (quick, slow):
        await claim_one(store, T0, operations=[job.operation])

    rescued = {j.id: j for j in await store.rescue_expired(RescueParams(at(31), RETENTION, policy))}
    assert rescued[quick.id].run_at == at(31)  # base 0: due again at once
    # Attempt 1 of `slow`: up to its base (full jitter), never before now.
    assert at(31) <= rescued[slow.id].run_at < at(31 + 1000)
    assert {j.status for j in rescued.values()} == {Status.QUEUED}

    # Attempt 2: the ceiling doubles, and the policy's cap bounds it.
    await claim_one(store, rescued[slow.id].run_at, operations=["slow"])
    later = rescued[slow.id].run_at + (at(31) - T0)
    [again] = await store.rescue_expired(RescueParams(later, RETENTION, policy))
    assert (again.id, again.attempt) == (slow.id, 2)
    assert later <= again.run_at < later + (at(1500) - T0)
