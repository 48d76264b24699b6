"""Listeners: changes committed here, and by other processes (poll or LISTEN/NOTIFY)."""

from __future__ import annotations

from tests.contract.helpers import RETENTION, StoreFactory, at, claim_one, submit
from tests.support.listen import Recorder, other_processes_heard

from lro.models import Status
from lro.store import JobChange, Store


async def test_local_changes_reach_listeners(store: Store) -> None:
    seen = Recorder()
    remove = store.add_listener(seen)
    try:
        job = await submit(store)
        await seen.wait_for(lambda c: c == JobChange(job.id, 1, Status.QUEUED))
        await claim_one(store)
        await seen.wait_for(lambda c: c == JobChange(job.id, 2, Status.PROCESSING))
        await store.request_cancel(job.id, at(1), RETENTION)
        change = await seen.wait_for(lambda c: c.job_id == job.id and c.version == 3)
        assert change == JobChange(job.id, 3, Status.PROCESSING, cancel_requested=True)
    finally:
        remove()


async def test_removed_listener_hears_nothing(store: Store) -> None:
    kept, removed = Recorder(), Recorder()
    remove_kept = store.add_listener(kept)
    remove = store.add_listener(removed)
    remove()
    remove()  # idempotent
    job = await submit(store)
    await kept.wait_for(lambda c: c.job_id == job.id)
    assert removed.changes == []
    remove_kept()


async def test_changes_from_another_process_reach_listeners(stores: StoreFactory) -> None:
    api, worker = await stores(), await stores()
    seen = Recorder()
    remove = api.add_listener(seen)
    await other_processes_heard(api)
    try:
        job = await submit(worker)
        await seen.wait_for(lambda c: c == JobChange(job.id, 1, Status.QUEUED))
        await claim_one(worker)
        await seen.wait_for(lambda c: c == JobChange(job.id, 2, Status.PROCESSING))
        await worker.request_cancel(job.id, at(1), RETENTION)
        change = await seen.wait_for(lambda c: c.job_id == job.id and c.version == 3)
        assert change.cancel_requested and change.status is Status.PROCESSING
    finally:
        remove()


async def test_failing_listener_does_not_break_the_store(store: Store) -> None:
    def broken(change: JobChange) -> None:
        raise RuntimeError("listener bug")

    seen = Recorder()
    remove_broken = store.add_listener(broken)
    remove = store.add_listener(seen)
    job = await submit(store)
    assert await store.get_job(job.id) is not None
    await seen.wait_for(lambda c: c.job_id == job.id)
    remove_broken()
    remove()
