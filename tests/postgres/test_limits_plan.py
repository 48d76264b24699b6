"""The limited claim's statements use their indexes on PostgreSQL (as the plain claim's
test does for lro_jobs_claim): a key held back costs an index entry, never a scan."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from tests.postgres.conftest import StoreMaker
from tests.postgres.helpers import T0, at

from lro.models import NewJob
from lro.store import ClaimParams
from lro.store.base import LimitedOperation
from lro.store.postgres.workload import Q

pytestmark = pytest.mark.postgres


async def test_the_limited_claim_uses_its_indexes(pg_url: str, make_store: StoreMaker) -> None:
    store = await make_store()
    jobs = [
        NewJob(id=str(uuid.uuid4()), operation="op", params={}, concurrency_key=f"k{i % 2000}")
        for i in range(20_000)
    ]
    for i in range(0, 20_000, 1000):
        await store.insert_jobs(jobs[i : i + 1000], T0)
    assert store.workload is not None
    spec = LimitedOperation("op", concurrency=300, key_concurrency=1, fair=True)
    claimed = await store.workload.claim_limited(ClaimParams("w", 100, 30.0, T0), [spec])
    assert len(claimed) == 100
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("SET enable_bitmapscan = off")  # as the store's sessions run
        await conn.execute("ANALYZE lro_jobs; ANALYZE lro_limit_keys")
        plans = {}
        for fair, key_limit in ((True, 1), (False, None)):
            q = Q["claim_round_free" if key_limit == 1 else "claim_round"]
            args = q.args(
                operation="op",
                key_limit=key_limit,
                fair=fair,
                budget=20,
                now=T0,
                lease_until=at(30),
                worker_id="w",
                turn=1,
            )
            plans[("round", key_limit)] = await conn.fetchval(
                "EXPLAIN (FORMAT JSON) " + q.sql, *args
            )
        q = Q["fold"]
        plans[("fold", None)] = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) " + q.sql,
            *q.args(operation="op", left=100, concurrency=300, rate=10, since=T0 - timedelta(60)),
        )
    finally:
        await conn.close()
    for name, plan in plans.items():
        scans = set(_scans(json.loads(plan)[0]["Plan"]))
        # Small side tables may be read whole where that is cheaper; the jobs never are.
        assert ("Seq Scan", "lro_jobs") not in scans, (name, scans)
        if name[0] == "round":
            assert ("Index Scan", "lro_jobs_limited") in scans, (name, scans)
            keys_index = "lro_limit_keys_free" if name[1] == 1 else "lro_limit_keys_turns"
            assert ("Index Scan", keys_index) in scans, (name, scans)
        else:
            # The running count reads processing jobs only (lro_jobs_limited_running, or
            # lro_jobs_lease when the planner finds that as cheap).
            assert scans & {
                ("Index Scan", "lro_jobs_limited_running"),
                ("Index Only Scan", "lro_jobs_limited_running"),
                ("Index Scan", "lro_jobs_lease"),
            }, (name, scans)
            assert any(i == "lro_limit_starts_op" for _, i in scans), (name, scans)


def _scans(node: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(node type, index or relation name) of every scan in a plan."""
    if "Scan" in node["Node Type"]:
        yield node["Node Type"], node.get("Index Name") or node.get("Relation Name") or ""
    for child in node.get("Plans", []):
        yield from _scans(child)
