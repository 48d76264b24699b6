"""The Redis store on its own (beside the contract suite, which every backend passes):
what only this backend has to get right."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from tests.contract.helpers import T0, at, claim_one, current, make_store, submit

from lro.models import Status, utcnow
from lro.store.redis import RedisStore
from lro.store.redis.rows import delivery_id, us_text

pytestmark = [pytest.mark.redis, pytest.mark.smoke]  # store-level: quick


async def test_a_submit_survives_a_server_that_lost_its_script_cache(redis_url: str) -> None:
    """Submits queue their scripts by SHA inside MULTI (no SCRIPT EXISTS per submit); after
    SCRIPT FLUSH (or a restart) the first one gets NOSCRIPT, loads them and runs again,
    and what had run of it is not written twice."""
    store = await make_store(redis_url)
    assert isinstance(store, RedisStore)
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        await client.script_flush()
        job = await submit(store, T0)
        assert await store.get_job(job.id) == job
        assert [e.version for e in await store.events_after(job.id, 0)] == [1]
        assert await client.llen("bull:default:wait") == 1
        assert await client.hget(f"bull:default:{job.id}", "name") == "op"
        running = await claim_one(store, at(1))
        assert running.id == job.id
    finally:
        await client.aclose()
        await store.close()


async def _bullmq_takes(scripts: Any, token: str) -> str:
    """What a plain BullMQ worker's fetch does: BullMQ's own moveToActive script."""
    job, job_id, _, _ = await scripts.moveToActive(token, {"lockDuration": 30_000})
    assert job is not None
    return str(job_id)


async def test_a_run_taken_over_while_the_reader_was_late_is_a_new_attempt(
    redis_url: str,
) -> None:
    """A plain worker takes the job, dies, BullMQ's stalled check puts it back and another
    worker takes it, all before lro's reader looks: lro records the lost run (queued
    again) and the second one (attempt 2), not just "still processing"."""
    from bullmq.redis_connection import RedisConnection
    from bullmq.scripts import Scripts

    store = await make_store(redis_url)
    assert isinstance(store, RedisStore)
    await store.feed.close()  # the reader is late: the test runs the sync itself
    bull = RedisConnection(redis_url)
    scripts = Scripts("bull", "default", bull)
    try:
        job = await submit(store, utcnow(), max_attempts=3)
        assert await _bullmq_takes(scripts, "worker-a") == job.id
        await sync(store, job.id)
        first = await current(store, job.id)
        assert (first.status, first.attempt, first.worker_id) == (Status.PROCESSING, 1, "bullmq")

        await bull.conn.delete(f"bull:default:{job.id}:lock")  # worker A died
        for _ in range(2):  # BullMQ's stalled check: mark, then move back to wait
            await scripts.moveStalledJobsToWait(1, 1)
            await bull.conn.delete("bull:default:stalled-check")
        assert await _bullmq_takes(scripts, "worker-b") == job.id
        await sync(store, job.id)
        second = await current(store, job.id)
        assert (second.status, second.attempt, second.lease_token) == (
            Status.PROCESSING,
            2,
            "worker-b",
        )
        kinds = [(e.status, e.attempt) for e in await store.events_after(job.id, first.version)]
        assert kinds == [(Status.QUEUED, 1), (Status.PROCESSING, 2)]
        await sync(store, job.id)  # idempotent: nothing new
        assert (await current(store, job.id)).version == second.version
    finally:
        await bull.close()
        await store.close()


async def sync(store: RedisStore, job_id: str) -> None:
    """What the feed runs for a job named in BullMQ's events."""
    now = utcnow()
    args = {
        "ids": [job_id],
        "dids": [delivery_id()],
        "now": us_text(now),
        "expires_at": us_text(now + timedelta(seconds=3600)),
        "hints": {"": ["", ""]},
    }
    store.conn.dispatch(await store.conn.run("sync", args))


async def test_a_plain_workers_partials_cut_by_the_feeds_read_all_come_before_its_end(
    redis_url: str,
) -> None:
    """The feed reads BullMQ's events in batches and syncs from BullMQ's state: when a
    read holds a plain worker's first partials but the worker has finished since (its
    later partials and its `completed` event in the next read), the end waits for the
    read that brings it, so every partial is stored, in order, before the terminal
    state, and the progress made after them comes after them; reading the same events
    again adds nothing."""
    from bullmq import Job, Queue
    from bullmq.redis_connection import RedisConnection
    from bullmq.scripts import Scripts

    store = await make_store(redis_url)
    assert isinstance(store, RedisStore)
    await store.feed.close()  # the test plays the feed's reads
    bull = RedisConnection(redis_url)
    scripts = Scripts("bull", "default", bull)
    queue = Queue("default", {"connection": redis_url, "prefix": "bull"})
    client = aioredis.from_url(redis_url, decode_responses=True)
    stream = "bull:default:events"
    try:
        job = await submit(store, utcnow())
        start = (await client.xrevrange(stream, count=1))[0][0]
        assert await _bullmq_takes(scripts, "worker-a") == job.id
        bjob = await Job.fromId(queue, job.id)
        assert bjob is not None
        for value in ({"row": 1}, "two", [3], None):
            await bjob.updateProgress({"partial": value})
        await bjob.updateProgress({"pct": 70, "step": "adding"})
        await bjob.moveToCompleted({"rows": 4}, "worker-a", fetchNext=False)
        entries = await client.xrange(stream, f"({start}", "+")
        events = [f["event"] for _, f in entries]
        progress = [n for n, e in enumerate(events) if e == "progress"]
        assert len(progress) == 5 and events.index("completed") > progress[-1]
        cut = progress[1] + 1  # the first read ends after the second partial

        await store.feed._sync(stream, entries[:cut])
        held = await current(store, job.id)
        # Neither the end nor the 70 % BullMQ's hash already says: both come after.
        assert (held.status, held.progress_pct, held.step) == (Status.PROCESSING, 0, None)
        partials = await store.steps.partials(job.id, 0, 10)
        assert [p.data for p in partials] == [{"row": 1}, "two"]

        await store.feed._sync(stream, entries[cut:])
        done = await current(store, job.id)
        assert (done.status, done.result) == (Status.COMPLETED, {"rows": 4})
        partials = await store.steps.partials(job.id, 0, 10)
        assert [(p.seq, p.data) for p in partials] == [
            (1, {"row": 1}),
            (2, "two"),
            (3, [3]),
            (4, None),
        ]
        kinds = [e.kind for e in await store.events_after(job.id, 0)]
        assert kinds[-6:] == ["partial"] * 4 + ["progress", "completed"]
        assert (done.progress_pct, done.step) == (100, "adding")

        await store.feed._sync(stream, entries)  # another process, reading it all
        assert (await current(store, job.id)).version == done.version
        assert len(await store.steps.partials(job.id, 0, 10)) == 4
    finally:
        await client.aclose()
        await queue.close()
        await bull.close()
        await store.close()
