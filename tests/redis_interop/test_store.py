"""The Redis store on its own (beside the contract suite, which every backend passes):
what only this backend has to get right."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from tests.contract.helpers import T0, at, claim_one, make_store, submit

from lro.store.redis import RedisStore

pytestmark = pytest.mark.redis


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
