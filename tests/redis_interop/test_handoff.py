"""Direct hand-off on Redis (store/redis/handoff.py): a submit gives its job to a parked
worker whose process is alive, leased to it in lro's record and in BullMQ's, and to
nobody else; everything else is queued. Two stores on one database stand in for the
worker's process and the API's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from tests.contract.helpers import T0, at, make_store, new_job
from tests.support.listen import WAIT, Recorder

from lro.models import Job, Status
from lro.store.base import ClaimParams, HandoffSubscription
from lro.store.redis import RedisStore

pytestmark = [pytest.mark.redis, pytest.mark.smoke]  # store-level: quick

WORKER = "host:1:worker"


class Inbox:
    """What a worker's subscription received, awaitable."""

    def __init__(self) -> None:
        self.jobs: list[Job | str] = []
        self._changed = asyncio.Event()

    def on_job(self, job: Job | str) -> None:
        self.jobs.append(job)
        self._changed.set()

    def on_reconnect(self) -> None:
        self._changed.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(WAIT):
            while len(self.jobs) < count:
                self._changed.clear()
                await self._changed.wait()


@pytest_asyncio.fixture
async def stores(redis_url: str) -> AsyncIterator[list[RedisStore]]:
    """Three stores on one fresh database, closed at the end."""
    opened: list[RedisStore] = []
    for _ in range(3):
        store = await make_store(redis_url)
        assert isinstance(store, RedisStore)
        opened.append(store)
    try:
        yield opened
    finally:
        for store in opened:
            await store.close()


async def park(store: RedisStore, worker_id: str = WORKER, ops: list[str] | None = None) -> bool:
    """A worker's claim on an empty queue, which parks it."""
    jobs, parked = await store.handoffs.claim_or_park(ClaimParams(worker_id, 5, 30.0, T0, ops))
    assert jobs == []
    return parked


async def parked_worker(
    store: RedisStore, worker_id: str = WORKER, ops: list[str] | None = None
) -> Inbox:
    inbox = Inbox()
    store.handoffs.subscribe(worker_id, HandoffSubscription(inbox.on_job, inbox.on_reconnect))
    assert await park(store, worker_id, ops)
    return inbox


async def parks(store: RedisStore) -> list[str]:
    client = store.conn.client
    return sorted(k.removeprefix("lro:park:") for k in await client.keys("lro:park:*"))


async def test_a_single_submit_goes_to_the_parked_worker_leased(
    stores: list[RedisStore], redis_url: str
) -> None:
    worker, api, _ = stores
    inbox = await parked_worker(worker)

    (inserted,) = await api.insert_jobs([new_job(params={"n": 7})], at(1))
    job = inserted.job
    assert (job.status, job.version, job.attempt, job.worker_id) == (
        Status.PROCESSING,
        2,
        1,
        WORKER,
    )
    assert job.lease_token and job.lease_expires_at == at(31) and job.started_at == at(1)
    # The submit's answer shows the job as accepted: queued, version 1.
    assert (inserted.accepted.status, inserted.accepted.version) == (Status.QUEUED, 1)
    await inbox.wait_for(1)
    # The feed carries the row itself, exactly as the store reads it back.
    assert inbox.jobs == [await worker.get_job(job.id)]
    events = await worker.events_after(job.id, 0)
    assert [(e.version, e.status, e.attempt) for e in events] == [
        (1, Status.QUEUED, 0),
        (2, Status.PROCESSING, 1),
    ]
    # BullMQ sees it active under the lease, as after a claim: a plain worker won't take it.
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        assert await client.lrange("bull:default:wait", 0, -1) == []
        assert await client.lrange("bull:default:active", 0, -1) == [job.id]
        assert await client.get(f"bull:default:{job.id}:lock") == job.lease_token
    finally:
        await client.aclose()
    assert await parks(worker) == []
    assert not await worker.handoffs.unpark(WORKER)  # the park was taken


async def test_a_claim_that_comes_back_short_parks_the_worker(stores: list[RedisStore]) -> None:
    worker, api, _ = stores
    inbox = await parked_worker(worker)
    await api.insert_jobs([new_job()], at(1))  # handed off: the park is used up
    await inbox.wait_for(1)
    await api.insert_jobs([new_job(), new_job()], at(2))  # a batch: queued

    jobs, parked = await worker.handoffs.claim_or_park(ClaimParams(WORKER, 2, 30.0, at(3)))
    assert (len(jobs), parked) == (2, False)  # a full claim: there may be more
    assert await parks(worker) == []
    await api.insert_jobs([new_job(), new_job()], at(4))
    jobs, parked = await worker.handoffs.claim_or_park(ClaimParams(WORKER, 5, 30.0, at(5)))
    assert (len(jobs), parked) == (2, True)  # short: nothing left, so it waits parked
    assert await parks(worker) == [WORKER]
    assert {j.status for j in jobs} == {Status.PROCESSING}


async def test_one_job_per_park(stores: list[RedisStore]) -> None:
    worker, api, _ = stores
    inbox = await parked_worker(worker)
    (first,) = await api.insert_jobs([new_job()], at(1))
    (second,) = await api.insert_jobs([new_job()], at(2))
    assert first.job.status is Status.PROCESSING
    assert second.job.status is Status.QUEUED and second.job.worker_id is None
    await inbox.wait_for(1)
    assert [j.id for j in inbox.jobs if isinstance(j, Job)] == [first.job.id]


@pytest.mark.parametrize("case", ["batch", "delayed", "other operation"])
async def test_what_is_not_handed_off_is_queued(stores: list[RedisStore], case: str) -> None:
    worker, api, _ = stores
    await parked_worker(worker, ops=["op"])
    if case == "batch":
        jobs = [new_job(), new_job()]
    elif case == "delayed":
        jobs = [new_job(run_at=at(60))]
    else:
        jobs = [new_job(operation="other")]
    inserted = await api.insert_jobs(jobs, at(1))
    assert {i.job.status for i in inserted} == {Status.QUEUED}
    assert await parks(worker) == [WORKER]  # the park waits for a job it can take


async def test_a_dead_process_gets_no_job_and_loses_its_park(stores: list[RedisStore]) -> None:
    worker, api, _ = stores
    inbox = await parked_worker(worker)
    # The worker's process stops renewing its liveness key (killed, frozen, cut off):
    # played here by deleting the key and the renewals with it.
    await worker.handoffs.close()
    (inserted,) = await api.insert_jobs([new_job()], at(1))
    assert inserted.job.status is Status.QUEUED
    assert await parks(worker) == []  # the dead park was cleared
    assert inbox.jobs == []


async def test_a_replay_uses_no_park(stores: list[RedisStore]) -> None:
    worker, api, _ = stores
    inbox = await parked_worker(worker)
    keyed = dict(idempotency_key="k1", request_fingerprint="f1", idempotency_expires_at=at(3600))
    (first,) = await api.insert_jobs([new_job(**keyed)], at(1))
    assert first.created and first.job.status is Status.PROCESSING
    await inbox.wait_for(1)
    assert await park(worker)
    (replay,) = await api.insert_jobs([new_job(**keyed)], at(3))
    assert not replay.created and replay.job.id == first.job.id
    assert await parks(worker) == [WORKER]  # still parked for a new job


async def test_two_parked_workers_take_one_job_each(stores: list[RedisStore]) -> None:
    a, b, api = stores
    inbox_a = await parked_worker(a, worker_id="a")
    inbox_b = await parked_worker(b, worker_id="b")
    results = await asyncio.gather(*(api.insert_jobs([new_job()], at(1)) for _ in range(3)))
    jobs = [r[0].job for r in results]
    assert sorted(j.worker_id or "-" for j in jobs) == ["-", "a", "b"]
    await inbox_a.wait_for(1)
    await inbox_b.wait_for(1)


async def test_the_longest_parked_worker_is_served_first(stores: list[RedisStore]) -> None:
    a, b, api = stores
    await parked_worker(b, worker_id="b")
    await parked_worker(a, worker_id="a")
    firsts = [(await api.insert_jobs([new_job()], at(n)))[0].job for n in (1, 2, 3)]
    assert [j.worker_id or "-" for j in firsts] == ["b", "a", "-"]


async def test_orphaned_finds_jobs_leased_to_a_worker_it_does_not_hold(
    stores: list[RedisStore],
) -> None:
    worker, api, _ = stores
    await parked_worker(worker)
    (inserted,) = await api.insert_jobs([new_job()], at(1))
    job = inserted.job
    assert job.lease_token is not None
    assert [j.id for j in await worker.handoffs.orphaned(WORKER, [])] == [job.id]
    assert await worker.handoffs.orphaned(WORKER, [job.lease_token]) == []
    assert await worker.handoffs.orphaned("someone else", []) == []


async def test_a_hand_off_to_a_stopped_worker_goes_back_to_the_queue(
    stores: list[RedisStore],
) -> None:
    """A worker that stopped without withdrawing its park (Redis was away): what still
    reaches its process is released unrun, with its attempt given back."""
    worker, api, _ = stores
    unsubscribe = worker.handoffs.subscribe(
        WORKER, HandoffSubscription(lambda job: None, lambda: None)
    )
    assert await park(worker)
    # Another subscriber keeps the process alive for hand-offs; this worker's is gone.
    worker.handoffs.subscribe("other", HandoffSubscription(lambda job: None, lambda: None))
    unsubscribe()

    heard = Recorder()
    api.add_listener(heard)
    (inserted,) = await api.insert_jobs([new_job()], at(1))
    assert inserted.job.status is Status.PROCESSING
    await heard.wait_until(lambda cs: any(c.status is Status.QUEUED for c in cs))
    job = await api.get_job(inserted.job.id)
    assert job is not None and (job.attempt, job.worker_id, job.lease_token) == (0, None, None)


async def test_park_needs_a_subscriber(stores: list[RedisStore]) -> None:
    store, _, _ = stores
    assert not await park(store)  # nobody subscribed
    assert await parks(store) == []
