"""A list by tag on PostgreSQL reads the lro_job_tags key, not the jobs table
(HTTP-CONTRACT §15: a tag filter stays fast however many jobs there are)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
from tests.postgres.conftest import StoreMaker
from tests.postgres.helpers import T0, at

from lro.models import NewJob
from lro.store.postgres.jobs import Q

pytestmark = pytest.mark.postgres


def _args(**over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "owner": "o1",
        "tag": "t1",
        "after_created": None,
        "after_id": "",
        "now": T0,
        "operation": None,
        "statuses": None,
        "created_after": None,
        "text": None,
        "more_tags": None,
        "limit": 51,
    }
    return {**args, **over}


async def test_tag_lists_walk_the_tag_index(pg_url: str, make_store: StoreMaker) -> None:
    store = await make_store()
    jobs = [
        NewJob(
            id=str(uuid.uuid4()),
            operation="op",
            params={},
            owner=f"o{i % 3}",
            tags=(f"t{i % 200}", "common"),
        )
        for i in range(20_000)
    ]
    for i in range(0, len(jobs), 1000):
        await store.insert_jobs(jobs[i : i + 1000], at(i))
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("ANALYZE lro_jobs")
        await conn.execute("ANALYZE lro_job_tags")
        # A rare tag (a few dozen jobs) and one every job carries: both read the tag key;
        # for the common one the key's order is the list's (no sort of thousands of rows).
        for name, args, index in (
            ("list_tagged", _args(), "lro_job_tags_pkey"),
            ("list_tagged", _args(more_tags='["common"]', text="x"), "lro_job_tags_pkey"),
            ("list_tagged", _args(tag="common"), "lro_job_tags_pkey"),
            ("list_all_tagged", {k: v for k, v in _args().items() if k != "owner"}, None),
            (
                "list_all_tagged",
                {k: v for k, v in _args(tag="common").items() if k != "owner"},
                None,
            ),
        ):
            query = Q[name]
            plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + query.sql, *query.args(**args))
            text = json.dumps(json.loads(plan))
            assert '"Relation Name": "lro_job_tags"' in text, text
            if index is not None:
                assert f'"Index Name": "{index}"' in text, text
            else:
                assert '"Index Name": "lro_job_tags_all"' in text, text
            assert '"Index Name": "lro_jobs_id_key"' in text, text
            assert '"Seq Scan"' not in text, text
            if args["tag"] == "common":
                assert '"Node Type": "Sort"' not in text, text  # the key gives the order
    finally:
        await conn.close()
