"""A list by tag on SQLite reads the job_tags key, not the jobs table (HTTP-CONTRACT §15:
a tag filter stays fast however many jobs there are)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lro.models import NewJob
from lro.store.sqlite import SQLiteStore
from lro.store.sqlite.jobs import Q
from lro.store.sqlite.schema import connect

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _args(**over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "owner": "",
        "tag": "t1",
        "after_created": 2**63 - 1,
        "after_id": "",
        "now": 0,
        "operation": None,
        "statuses": None,
        "created_after": None,
        "text": None,
        "more_tags": None,
        "limit": 51,
    }
    return {**args, **over}


async def test_tag_lists_walk_the_tag_index(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "lro.db")
    await store.open()
    jobs = [
        NewJob(
            id=str(uuid.uuid4()),
            operation="op",
            params={},
            owner=f"o{i % 3}",
            tags=(f"t{i % 50}", "common"),
        )
        for i in range(5000)
    ]
    for i in range(0, len(jobs), 500):
        await store.insert_jobs(jobs[i : i + 500], T0 + timedelta(seconds=i))
    await store.close()
    conn = connect(str(tmp_path / "lro.db"))
    conn.execute("ANALYZE")
    try:
        for name, args in (
            ("list_tagged", _args()),
            ("list_tagged", _args(more_tags='["common"]', text="x", created_after=1)),
            ("list_all_tagged", _args(owner=None)),
        ):
            plan = conn.execute("EXPLAIN QUERY PLAN " + Q[name], args).fetchall()
            details = " | ".join(str(r[-1]) for r in plan)
            assert "SEARCH job_tags USING" in details, details
            assert "SEARCH jobs USING INDEX sqlite_autoindex_jobs" in details, details
            assert "SCAN jobs" not in details, details
            assert "TEMP B-TREE FOR ORDER BY" not in details, details  # the key gives it
            if name == "list_all_tagged":
                assert "job_tags_all" in details, details
    finally:
        conn.close()
