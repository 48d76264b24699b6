"""Direct hand-off (store/postgres_handoff.py): a submit gives its job to a parked worker
whose notification session is alive, and to nobody else; everything else is queued."""

from __future__ import annotations

import asyncio

import pytest
from tests.postgres.conftest import StoreMaker
from tests.postgres.helpers import T0, at, new_jobs
from tests.support.listen import WAIT, Recorder

from lro.models import Job, Status
from lro.store.base import ClaimParams, HandoffSubscription
from lro.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres

WORKER = "host:1:worker"


class Inbox:
    """What a worker's subscription received, awaitable."""

    def __init__(self) -> None:
        self.jobs: list[Job | str] = []
        self.reconnects = 0
        self._changed = asyncio.Event()

    def on_job(self, job: Job | str) -> None:
        self.jobs.append(job)
        self._changed.set()

    def on_reconnect(self) -> None:
        self.reconnects += 1
        self._changed.set()

    async def wait_reconnect(self) -> None:
        async with asyncio.timeout(WAIT):
            while self.reconnects == 0:
                self._changed.clear()
                await self._changed.wait()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(WAIT):
            while len(self.jobs) < count:
                self._changed.clear()
                await self._changed.wait()


async def parked_worker(
    store: PostgresStore, operations: list[str] | None = None, worker_id: str = WORKER
) -> Inbox:
    """A store standing in for a worker process: listening, subscribed, parked."""
    inbox = Inbox()
    store.add_listener(lambda change: None)
    await asyncio.wait_for(store.listening.wait(), WAIT)
    assert store.handoffs is not None
    store.handoffs.subscribe(worker_id, HandoffSubscription(inbox.on_job, inbox.on_reconnect))
    assert await park(store, worker_id, operations)
    return inbox


async def park(
    store: PostgresStore, worker_id: str = WORKER, operations: list[str] | None = None
) -> bool:
    """A worker's claim on an empty queue, which parks it."""
    assert store.handoffs is not None
    jobs, parked = await store.handoffs.claim_or_park(
        ClaimParams(worker_id, 5, 30.0, T0, operations)
    )
    assert jobs == []
    return parked


async def idle_rows(store: PostgresStore) -> list[str]:
    rows = await store.db.fetch_sql("SELECT worker_id FROM lro_idle_workers ORDER BY worker_id")
    return [r[0] for r in rows]


async def test_a_single_submit_goes_to_the_parked_worker_leased(make_store: StoreMaker) -> None:
    worker, api = await make_store(), await make_store()
    inbox = await parked_worker(worker)

    (inserted,) = await api.insert_jobs(new_jobs(1, params={"n": 7}), at(1))
    job = inserted.job
    assert (job.status, job.version, job.attempt, job.worker_id) == (
        Status.PROCESSING,
        2,
        1,
        WORKER,
    )
    assert job.lease_token and job.lease_expires_at == at(31) and job.started_at == at(1)
    await inbox.wait_for(1)
    # The notification carries the row itself, exactly as the store reads it back.
    assert inbox.jobs == [await worker.get_job(job.id)]
    # Both states are in the event log, in one transaction; the park is used up.
    events = await worker.events_after(job.id, 0)
    assert [(e.version, e.status, e.attempt) for e in events] == [
        (1, Status.QUEUED, 0),
        (2, Status.PROCESSING, 1),
    ]
    assert await idle_rows(worker) == []
    assert worker.handoffs is not None
    assert not await worker.handoffs.unpark(WORKER)  # the park was taken


async def test_a_claim_that_comes_back_short_parks_the_worker(make_store: StoreMaker) -> None:
    worker, api = await make_store(), await make_store()
    inbox = await parked_worker(worker)
    assert worker.handoffs is not None
    await api.insert_jobs(new_jobs(1), at(1))  # handed off: the park is used up
    await inbox.wait_for(1)
    await api.insert_jobs(new_jobs(2), at(2))  # a batch: queued

    jobs, parked = await worker.handoffs.claim_or_park(ClaimParams(WORKER, 2, 30.0, at(3)))
    assert (len(jobs), parked) == (2, False)  # a full claim: there may be more
    assert await idle_rows(worker) == []
    await api.insert_jobs(new_jobs(2), at(4))
    jobs, parked = await worker.handoffs.claim_or_park(ClaimParams(WORKER, 5, 30.0, at(5)))
    assert (len(jobs), parked) == (2, True)  # short: nothing left, so it waits parked
    assert await idle_rows(worker) == [WORKER]
    assert {j.status for j in jobs} == {Status.PROCESSING}


async def test_one_job_per_park(make_store: StoreMaker) -> None:
    worker, api = await make_store(), await make_store()
    inbox = await parked_worker(worker)
    (first,) = await api.insert_jobs(new_jobs(1), at(1))
    (second,) = await api.insert_jobs(new_jobs(1), at(2))
    assert first.job.status is Status.PROCESSING
    assert second.job.status is Status.QUEUED and second.job.worker_id is None
    await inbox.wait_for(1)
    assert [j.id for j in inbox.jobs if isinstance(j, Job)] == [first.job.id]


@pytest.mark.parametrize("case", ["batch", "delayed", "other operation"])
async def test_what_is_not_handed_off_is_queued(make_store: StoreMaker, case: str) -> None:
    worker, api = await make_store(), await make_store()
    await parked_worker(worker, operations=["op"])
    if case == "batch":
        jobs = new_jobs(2)
    elif case == "delayed":
        jobs = new_jobs(1, run_at=at(60))
    else:
        jobs = new_jobs(1, operation="other")
    inserted = await api.insert_jobs(jobs, at(1))
    assert {i.job.status for i in inserted} == {Status.QUEUED}
    assert await idle_rows(worker) == [WORKER]  # the park waits for a job it can take


async def test_a_dead_session_gets_no_job_and_loses_its_park(make_store: StoreMaker) -> None:
    worker, api = await make_store(), await make_store()
    inbox = await parked_worker(worker)
    worker.listening.clear()
    # The server ends the worker's LISTEN session: its liveness lock goes with it. The
    # store reconnects under a new key, which the old park does not carry.
    await api.db.fetch_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        "lro-listen",
    )
    await asyncio.wait_for(worker.listening.wait(), WAIT)
    await inbox.wait_reconnect()

    (inserted,) = await api.insert_jobs(new_jobs(1), at(1))
    assert inserted.job.status is Status.QUEUED
    assert await idle_rows(worker) == []  # the dead park was cleared
    assert inbox.jobs == []


async def test_a_row_too_big_to_notify_arrives_as_its_id(make_store: StoreMaker) -> None:
    worker, api = await make_store(), await make_store()
    inbox = await parked_worker(worker)
    (inserted,) = await api.insert_jobs(new_jobs(1, params={"blob": "x" * 9000}), at(1))
    assert inserted.job.status is Status.PROCESSING
    await inbox.wait_for(1)
    assert inbox.jobs == [inserted.job.id]


async def test_keyed_submits_hand_off_and_a_replay_uses_no_park(make_store: StoreMaker) -> None:
    worker, api = await make_store(), await make_store()
    inbox = await parked_worker(worker)
    keyed = dict(idempotency_key="k1", request_fingerprint="f1", idempotency_expires_at=at(3600))
    (first,) = await api.insert_jobs(new_jobs(1, **keyed), at(1))
    assert first.created and first.job.status is Status.PROCESSING
    await inbox.wait_for(1)

    assert worker.handoffs is not None
    assert await park(worker)
    (replay,) = await api.insert_jobs(new_jobs(1, **keyed), at(3))
    assert not replay.created and replay.job.id == first.job.id
    assert await idle_rows(worker) == [WORKER]  # still parked for a new job


async def test_two_parked_workers_take_one_job_each(make_store: StoreMaker) -> None:
    a, b, api = await make_store(), await make_store(), await make_store()
    inbox_a = await parked_worker(a, worker_id="a")
    inbox_b = await parked_worker(b, worker_id="b")
    results = await asyncio.gather(*(api.insert_jobs(new_jobs(1), at(1)) for _ in range(3)))
    jobs = [r[0].job for r in results]
    assert sorted(j.worker_id or "-" for j in jobs) == ["-", "a", "b"]
    await inbox_a.wait_for(1)
    await inbox_b.wait_for(1)


async def test_orphaned_finds_jobs_leased_to_a_worker_it_does_not_hold(
    make_store: StoreMaker,
) -> None:
    worker, api = await make_store(), await make_store()
    await parked_worker(worker)
    (inserted,) = await api.insert_jobs(new_jobs(1), at(1))
    job = inserted.job
    assert worker.handoffs is not None and job.lease_token is not None
    assert [j.id for j in await worker.handoffs.orphaned(WORKER, [])] == [job.id]
    assert await worker.handoffs.orphaned(WORKER, [job.lease_token]) == []
    assert await worker.handoffs.orphaned("someone else", []) == []


async def test_a_hand_off_to_a_stopped_worker_goes_back_to_the_queue(
    make_store: StoreMaker,
) -> None:
    """A worker that stopped without withdrawing its park (the database was away): what
    still reaches its process is released unrun, with its attempt given back."""
    worker, api = await make_store(), await make_store()
    worker.add_listener(lambda change: None)
    await asyncio.wait_for(worker.listening.wait(), WAIT)
    assert worker.handoffs is not None
    unsubscribe = worker.handoffs.subscribe(
        WORKER, HandoffSubscription(lambda job: None, lambda: None)
    )
    assert await park(worker)
    unsubscribe()

    heard = Recorder()
    api.add_listener(heard)
    await asyncio.wait_for(api.listening.wait(), WAIT)
    (inserted,) = await api.insert_jobs(new_jobs(1), at(1))
    assert inserted.job.status is Status.PROCESSING
    await heard.wait_until(lambda cs: any(c.status is Status.QUEUED for c in cs))
    job = await api.get_job(inserted.job.id)
    assert job is not None and (job.attempt, job.worker_id, job.lease_token) == (0, None, None)


async def test_park_needs_a_live_session_and_a_subscriber(make_store: StoreMaker) -> None:
    store = await make_store()
    assert store.handoffs is not None
    assert not await park(store)  # not listening
    store.add_listener(lambda change: None)
    await asyncio.wait_for(store.listening.wait(), WAIT)
    assert not await park(store)  # nobody subscribed
    assert await idle_rows(store) == []
