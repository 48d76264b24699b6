"""The limited claim's queries use their indexes on SQLite (as test_sqlite_migrations
checks for the plain claim): a key held back costs an index entry, never a scan."""

from __future__ import annotations

from pathlib import Path

from lro.store.sqlite.schema import connect, migrate_connection
from lro.store.sqlite.workload import Q


def _plan(conn: object, name: str, **args: object) -> str:
    rows = conn.execute("EXPLAIN QUERY PLAN " + Q[name], args).fetchall()  # type: ignore[attr-defined]
    return " | ".join(str(r[-1]) for r in rows)


def test_the_limited_claim_uses_its_indexes(tmp_path: Path) -> None:
    conn = connect(str(tmp_path / "lro.db"))
    migrate_connection(conn)
    keys = _plan(conn, "ready_keys", operation="op", key_limit=1, limit=10)
    assert "limit_keys_turns" in keys and "TEMP B-TREE" not in keys, keys
    free = _plan(conn, "free_keys", operation="op", limit=10)
    assert "limit_keys_free" in free and "TEMP B-TREE" not in free, free
    head = _plan(conn, "key_head", operation="op", key="k", now=0, limit=10)
    assert "jobs_limited" in head and "TEMP B-TREE" not in head, head
    running = _plan(conn, "running_total", operation="op")
    assert "jobs_limited_running" in running, running
    started = _plan(conn, "started_since", operation="op", since=0)
    assert "limit_starts_op" in started, started
    depth = _plan(conn, "queued_count", operation="op", cap=10)
    assert "jobs_limited" in depth, depth
    for plan in (keys, head, running, depth):
        assert "SCAN jobs" not in plan.replace("SCAN jobs USING", ""), plan
    conn.close()
