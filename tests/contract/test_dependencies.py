"""Dependencies (HTTP-CONTRACT §17) on every backend: a dependent job waits queued and
unclaimable, is released by its last dependency's completion in that same transaction,
and fails with dependency_failed (transitively) when one fails or is cancelled, unless
its policy is `always`."""

from __future__ import annotations

import uuid

import pytest
from tests.contract.helpers import (
    RETENTION,
    T0,
    StoreFactory,
    at,
    claim,
    claim_one,
    current,
    lease_of,
    new_job,
    submit,
)
from tests.support.listen import Recorder, other_processes_heard

from lro.models import Completion, ErrorDetail, Failure, Status
from lro.store import NewBatch, RescueParams, Store
from lro.store.depends import DEPENDENCY_FAILED_TYPE

pytestmark = pytest.mark.usefixtures("needs_flows")


ERROR = ErrorDetail("about:blank", "Broke", "d", "broke", False, 1)


async def _complete(store: Store, job_id: str, now_s: float) -> None:
    """Claim exactly this job (by its operation, unique in these tests) and complete it."""
    operation = (await current(store, job_id)).operation
    [job] = await claim(store, 1, at(now_s), operations=[operation])
    assert job.id == job_id
    [done] = await store.complete_jobs(
        [Completion(lease_of(job), {"of": job_id})], at(now_s), RETENTION
    )
    assert done is not None


async def test_a_dependent_waits_until_every_dependency_completed(store: Store) -> None:
    a = await submit(store, operation="a")
    b = await submit(store, operation="b")
    c = await submit(store, operation="c", depends_on=(a.id, b.id))
    assert c.status is Status.QUEUED and c.waiting_on == (a.id, b.id)
    assert c.depends_on == (a.id, b.id)
    assert [j.id for j in await claim(store, 10, at(1), operations=["c"])] == []
    [ra] = await claim(store, 1, at(1), operations=["a"])
    await store.complete_jobs([Completion(lease_of(ra), 1)], at(2), RETENTION)
    after_a = await current(store, c.id)
    assert after_a.waiting_on == (b.id,) and after_a.version == 2
    assert [j.id for j in await claim(store, 10, at(3), operations=["c"])] == []
    [rb] = await claim(store, 1, at(3), operations=["b"])
    await store.complete_jobs([Completion(lease_of(rb), 2)], at(4), RETENTION)
    ready = await current(store, c.id)
    assert ready.waiting_on == () and ready.status is Status.QUEUED and ready.run_at == at(4)
    assert [e.version for e in await store.events_after(c.id, 0)] == [1, 2, 3]
    got = await claim_one(store, at(4), operations=["c"])
    assert got.id == c.id


async def test_completed_dependencies_do_not_hold_a_new_job(store: Store) -> None:
    a = await submit(store, operation="a")
    await _complete(store, a.id, 1)
    b = await submit(store, at(2), depends_on=(a.id,))
    assert b.waiting_on == () and b.status is Status.QUEUED
    assert (await claim_one(store, at(2))).id == b.id


async def test_a_failure_fails_every_job_downstream(store: Store) -> None:
    a = await submit(store, operation="a", callback_url="https://example.com/a")
    b = await submit(store, operation="b", depends_on=(a.id,), callback_url="https://example.com/b")
    c = await submit(store, operation="c", depends_on=(b.id,))
    always = await submit(store, operation="d", depends_on=(a.id,), dependency_policy="always")
    other = await submit(store, operation="e")
    [ra] = await claim(store, 1, at(1), operations=["a"])
    await store.fail_jobs([Failure(lease_of(ra), ERROR)], at(2), RETENTION)
    for job_id, via in ((b.id, a.id), (c.id, b.id)):
        job = await current(store, job_id)
        assert job.status is Status.FAILED and job.error is not None
        assert job.error.code == "dependency_failed" and job.error.type == DEPENDENCY_FAILED_TYPE
        assert via in job.error.detail and not job.error.retryable
        assert job.finished_at == at(2) and job.expires_at == at(2 + RETENTION)
        assert [e.kind for e in await store.events_after(job_id, 0)] == ["status", "failed"]
    hooks = await store.outbox.list_deliveries(b.id)
    assert [d.event_type for d in hooks] == ["job.failed"]
    runs = await current(store, always.id)
    assert runs.status is Status.QUEUED and runs.waiting_on == () and runs.run_at == at(2)
    assert (await current(store, other.id)).status is Status.QUEUED


async def test_cancelling_a_dependency_fails_its_dependents(store: Store) -> None:
    a = await submit(store)
    b = await submit(store, depends_on=(a.id,))
    await store.request_cancel(a.id, at(1), RETENTION)
    job = await current(store, b.id)
    assert job.status is Status.FAILED and job.error is not None
    assert job.error.code == "dependency_failed" and "cancelled" in job.error.detail


async def test_a_dependency_already_failed_fails_the_new_job_at_once(store: Store) -> None:
    a = await submit(store)
    await store.request_cancel(a.id, at(1), 100.0)
    b = await submit(store, at(5), depends_on=(a.id,))
    assert b.status is Status.FAILED and b.error is not None
    assert b.error.code == "dependency_failed"
    assert b.expires_at == at(105)  # the retention the dependency's ending used
    c = await submit(store, at(6), depends_on=(a.id,), dependency_policy="always")
    assert c.status is Status.QUEUED and c.waiting_on == ()


async def test_a_lost_worker_that_gives_up_fails_the_dependents(store: Store) -> None:
    a = await submit(store, max_attempts=1)
    b = await submit(store, depends_on=(a.id,))
    await claim_one(store, at(1))  # a: its worker dies, the lease runs out
    rescued = await store.rescue_expired(RescueParams(now=at(100), retention_seconds=RETENTION))
    assert [j.status for j in rescued] == [Status.FAILED]
    job = await current(store, b.id)
    assert job.status is Status.FAILED and job.error is not None
    assert job.error.code == "dependency_failed"


async def test_batch_refs_wait_on_earlier_jobs_of_the_batch(store: Store) -> None:
    assert store.batches is not None
    batch_id = str(uuid.uuid4())
    first = new_job(batch_id=batch_id, operation="first")
    second = new_job(batch_id=batch_id, operation="second")
    merge = new_job(batch_id=batch_id, operation="merge", depends_on=(first.id, second.id))
    got = await store.batches.insert_batch(NewBatch(batch_id, "", [first, second, merge]), T0)
    assert got.jobs[2].waiting_on == (first.id, second.id)
    await _complete(store, first.id, 1)
    await _complete(store, second.id, 2)
    assert (await current(store, merge.id)).waiting_on == ()
    assert (await claim_one(store, at(3), operations=["merge"])).id == merge.id


async def test_a_failed_job_early_in_a_batch_fails_its_dependents_in_it(store: Store) -> None:
    assert store.batches is not None
    gone = await submit(store)
    await store.request_cancel(gone.id, at(1), RETENTION)
    batch_id = str(uuid.uuid4())
    first = new_job(batch_id=batch_id, depends_on=(gone.id,))
    second = new_job(batch_id=batch_id, depends_on=(first.id,))
    got = await store.batches.insert_batch(NewBatch(batch_id, "", [first, second]), at(2))
    assert [j.status for j in got.jobs] == [Status.FAILED, Status.FAILED]
    assert got.batch.unfinished == 0 and got.batch.status is Status.COMPLETED


async def test_a_release_is_heard_here_and_in_other_processes(stores: StoreFactory) -> None:
    """A released dependent wakes idle workers at once: the ending's own process hears of
    it (the verb did not write it, a trigger did) and so do the others."""
    here, there = await stores(), await stores()
    a = await submit(here, operation="a")
    b = await submit(here, operation="b", depends_on=(a.id,))
    seen_here, seen_there = Recorder(), Recorder()
    remove = [here.add_listener(seen_here), there.add_listener(seen_there)]
    await other_processes_heard(there)
    try:
        [ra] = await claim(here, 1, at(1), operations=["a"])
        await here.complete_jobs([Completion(lease_of(ra))], at(2), RETENTION)
        for seen in (seen_here, seen_there):
            change = await seen.wait_for(lambda c: c.job_id == b.id and c.version == 2)
            assert change.status is Status.QUEUED
    finally:
        for r in remove:
            r()
