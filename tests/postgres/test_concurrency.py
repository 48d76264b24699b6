"""Several stores (standing in for processes) on one database: claims, sweeps and
idempotent submits stay exclusive, and the claim query uses its index."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import asyncpg
import pytest
from tests.postgres.conftest import StoreMaker
from tests.postgres.helpers import T0, at, new_jobs

from lro.models import Completion, Lease, NewJob
from lro.store import ClaimParams, SweepParams
from lro.store.postgres import PostgresStore
from lro.store.postgres.jobs import Q

pytestmark = pytest.mark.postgres


async def _drain(store: PostgresStore, worker: str, batch: int) -> list[str]:
    got: list[str] = []
    while True:
        jobs = await store.claim_jobs(ClaimParams(worker, batch, 30.0, T0))
        if not jobs:
            return got
        got.extend(j.id for j in jobs)
        await asyncio.sleep(0)


async def test_concurrent_claims_never_overlap(make_store: StoreMaker) -> None:
    stores = [await make_store() for _ in range(5)]
    jobs = new_jobs(600)
    for i in range(0, 600, 200):
        await stores[0].insert_jobs(jobs[i : i + 200], T0)
    results = await asyncio.gather(
        *(_drain(s, f"w{n}", 7) for n, s in enumerate(stores) for _ in range(2))
    )
    claimed = Counter(job_id for got in results for job_id in got)
    assert len(claimed) == 600
    assert max(claimed.values()) == 1
    assert sum(1 for got in results if got) > 1  # the work really was shared


async def test_concurrent_sweepers_never_double_delete(make_store: StoreMaker) -> None:
    stores = [await make_store() for _ in range(4)]
    jobs = new_jobs(300)
    await stores[0].insert_jobs(jobs, T0)
    claimed = await stores[0].claim_jobs(ClaimParams("w", 300, 30.0, T0))
    done = await stores[0].complete_jobs(
        [Completion(Lease(j.id, j.lease_token or "")) for j in claimed], at(1), 10.0
    )
    assert all(done)
    survivor = (await stores[0].insert_jobs(new_jobs(1), T0))[0].job  # queued: never swept

    async def sweep(store: PostgresStore) -> list[str]:
        out: list[str] = []
        while swept := (await store.sweep(SweepParams(at(60), 10, 3600.0))).job_ids:
            out.extend(swept)
        return out

    results = await asyncio.gather(*(sweep(s) for s in stores for _ in range(2)))
    deleted = Counter(job_id for got in results for job_id in got)
    assert len(deleted) == 300 and max(deleted.values()) == 1
    assert await stores[1].get_job(survivor.id) is not None
    for job in jobs[:5]:
        tomb = await stores[2].get_tombstone(job.id, at(61))
        assert tomb is not None and tomb.expired_at == at(11)


async def test_concurrent_duplicate_submits_make_one_job(make_store: StoreMaker) -> None:
    stores = [await make_store() for _ in range(6)]
    attempts = [
        new_jobs(1, owner="o", idempotency_key="k", idempotency_expires_at=at(3600))[0]
        for _ in range(12)
    ]
    results = await asyncio.gather(
        *(stores[i % 6].insert_jobs([job], T0) for i, job in enumerate(attempts))
    )
    created = [r[0] for r in results if r[0].created]
    assert len(created) == 1
    assert {r[0].job.id for r in results} == {created[0].job.id}


async def test_claim_query_uses_its_index(pg_url: str, make_store: StoreMaker) -> None:
    store = await make_store()
    await store.insert_jobs(new_jobs(2000), T0)
    claimed = await store.claim_jobs(ClaimParams("w", 1990, 30.0, T0))
    await store.complete_jobs(
        [Completion(Lease(j.id, j.lease_token or "")) for j in claimed], at(1), 3600.0
    )
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("ANALYZE lro_jobs")
        claim = Q["claim_jobs"]
        plan = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) " + claim.sql,
            *claim.args(now=T0, lease_until=at(30), worker_id="w", operations=None, limit=20),
        )
        plan_ops = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) " + claim.sql,
            *claim.args(now=T0, lease_until=at(30), worker_id="w", operations=["op"], limit=20),
        )
    finally:
        await conn.close()
    for p in (plan, plan_ops):
        text = json.dumps(json.loads(p))
        assert '"Index Name": "lro_jobs_claim"' in text, text
        assert '"Seq Scan"' not in text, text


async def test_a_claim_commits_without_waiting_for_its_wal_flush(
    pg_url: str, make_store: StoreMaker
) -> None:
    """The claim statement turns synchronous_commit off for its own transaction only: a
    claim lost in a crash just runs the job again, and the next statement is durable."""
    store = await make_store()
    await store.insert_jobs(new_jobs(1), T0)
    conn = await asyncpg.connect(pg_url)
    try:
        async with conn.transaction():
            claim = Q["claim_jobs"]
            args = claim.args(now=T0, lease_until=at(30), worker_id="w", operations=None, limit=5)
            assert len(await conn.fetch(claim.sql, *args)) == 1
            assert await conn.fetchval("SELECT current_setting('synchronous_commit')") == "off"
        assert await conn.fetchval("SELECT current_setting('synchronous_commit')") == "on"
    finally:
        await conn.close()


async def test_dependents_inserted_while_their_dependencies_end_are_all_released(
    make_store: StoreMaker,
) -> None:
    """Inserts that share dependencies (listed in either order) race each other and the
    dependencies' completions: none deadlocks, and every dependent ends up released,
    whichever committed first (the has_dependents flag is set under the row lock)."""
    stores = [await make_store() for _ in range(4)]
    parents = new_jobs(2)
    await stores[0].insert_jobs(parents, T0)
    claimed = await stores[0].claim_jobs(ClaimParams("w", 2, 30.0, T0))
    assert len(claimed) == 2
    a, b = sorted(parents, key=lambda j: j.id)

    async def insert(store: PostgresStore, n: int) -> str:
        order = (a.id, b.id) if n % 2 else (b.id, a.id)
        child = NewJob(id=f"child-{n:02d}", operation="child", params={}, depends_on=order)
        [done] = await store.insert_jobs([child], T0)
        return done.job.id

    async def complete() -> None:
        await asyncio.sleep(0)
        for job in claimed:
            assert job.lease_token is not None
            await stores[3].complete_jobs([Completion(Lease(job.id, job.lease_token))], at(1), 60)

    children = await asyncio.gather(
        *(insert(stores[n % 3], n) for n in range(24)), complete(), return_exceptions=True
    )
    assert [c for c in children if isinstance(c, BaseException)] == []
    for child_id in children[:-1]:
        assert isinstance(child_id, str)
        job = await stores[0].get_job(child_id)
        assert job is not None and job.waiting_on == () and job.status.value == "queued"
