"""SQLite-specific: migrations, URL parsing, connection failures, query plans, time mapping."""

from __future__ import annotations

import random
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.contract.helpers import complete_parent_releases, make_waiting_child

from lro.errors import SchemaTooNew, StoreUnavailable
from lro.store import ClaimParams, open_store
from lro.store.sql import load_migrations, parse_queries
from lro.store.sqlite import SQLiteStore
from lro.store.sqlite import schema as sqlite_schema
from lro.store.sqlite.jobs import Q
from lro.store.sqlite.rows import decode_cursor, from_us, to_us
from lro.store.sqlite.schema import (
    LATEST_VERSION,
    MIGRATIONS,
    connect,
    migrate_connection,
    split_statements,
)


def versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]


def schema(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 2"
        )
        return [tuple(r) for r in rows]


async def test_fresh_database_gets_the_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "lro.db"  # the parent directory is created
    store = SQLiteStore(path)
    await store.open()
    assert await store.migrate() == LATEST_VERSION
    await store.close()
    assert versions(path) == list(range(1, LATEST_VERSION + 1))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_reopen_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "lro.db"
    for _ in range(2):
        store = SQLiteStore(path)
        await store.open()
        await store.close()
    assert versions(path) == list(range(1, LATEST_VERSION + 1))


async def test_migrate_without_open(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "lro.db")
    assert await store.migrate() == LATEST_VERSION
    assert await store.migrate() == LATEST_VERSION


async def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "lro.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?, 'future', 0)",
            (LATEST_VERSION + 1,),
        )
    before = schema(path)
    with pytest.raises(SchemaTooNew):
        await SQLiteStore(path).open()
    with pytest.raises(SchemaTooNew):
        await SQLiteStore(path).migrate()
    assert schema(path) == before
    assert versions(path)[-1] == LATEST_VERSION + 1


def test_processes_starting_together_migrate_once(tmp_path: Path) -> None:
    """Threads with their own connections stand in for processes racing at start-up."""
    path = str(tmp_path / "lro.db")
    start = threading.Barrier(6)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            conn = connect(path)
            try:
                results.append(migrate_connection(conn))
            finally:
                conn.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert results == [LATEST_VERSION] * 6
    assert versions(Path(path)) == list(range(1, LATEST_VERSION + 1))


def test_migrations_are_numbered_without_gaps() -> None:
    found = [m.version for m in load_migrations("lro.store.sqlite")]
    assert found == list(range(1, LATEST_VERSION + 1))
    assert MIGRATIONS[0].name == "init"


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    script = (
        "-- comment; with a semicolon\n"
        "CREATE TABLE a (x INTEGER);\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
        "  INSERT INTO a VALUES (1);\n"
        "  DELETE FROM a WHERE x = 2;\n"
        "END;\n"
        "-- trailing comment\n"
    )
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with pytest.raises(ValueError):
        split_statements("CREATE TABLE b (x INTEGER)")


def test_parse_queries_expands_includes() -> None:
    text = "-- preamble\n-- name: cols\na, b\n\n-- name: q\n-- why\nSELECT {{cols}} FROM t;\n"
    assert parse_queries(text) == {"cols": "a, b", "q": "-- why\nSELECT a, b FROM t"}


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///lro.db", "lro.db"),
        ("sqlite:///data/lro.db", "data/lro.db"),
        ("sqlite:////var/lib/lro.db", "/var/lib/lro.db"),
    ],
)
def test_from_url(url: str, path: str) -> None:
    assert SQLiteStore.from_url(url).path == path
    store = open_store(url, poll_interval=0.5)
    assert isinstance(store, SQLiteStore) and store.poll_interval == 0.5


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "mysql:///x"])
def test_from_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        SQLiteStore.from_url(url)


async def test_unreachable_database_is_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreUnavailable):
        await SQLiteStore(blocker / "lro.db").open()


async def test_locked_database_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "lro.db"
    store = SQLiteStore(path, busy_timeout_ms=50)
    await store.open()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(StoreUnavailable):
            await store.claim_jobs(ClaimParams("w", 1, 1.0, datetime.now(UTC)))
        await store.ping()  # reads still work in WAL mode
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await store.claim_jobs(ClaimParams("w", 1, 1.0, datetime.now(UTC))) == []
    await store.close()


def test_claim_uses_the_queue_index(tmp_path: Path) -> None:
    conn = connect(str(tmp_path / "lro.db"))
    migrate_connection(conn)
    plan = conn.execute(
        "EXPLAIN QUERY PLAN " + Q["claim_jobs"],
        {"now": 0, "lease_until": 0, "worker_id": "w", "limit": 1, "operations": None},
    ).fetchall()
    details = " | ".join(str(r[-1]) for r in plan)
    assert "jobs_claim" in details, details
    assert "TEMP B-TREE" not in details, details  # no sort: the index gives the order
    plan = conn.execute(
        "EXPLAIN QUERY PLAN " + Q["list_jobs"],
        {
            "owner": "",
            "after_created": 0,
            "after_id": "",
            "now": 0,
            "operation": None,
            "statuses": None,
            "created_after": None,
            "text": None,
            "limit": 1,
        },
    ).fetchall()
    details = " | ".join(str(r[-1]) for r in plan)
    assert "jobs_owner_created" in details and "TEMP B-TREE" not in details, details
    conn.close()


def test_times_round_trip_exactly() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    for _ in range(20_000):
        us = rng.randrange(0, 4_102_444_800 * 10**6)  # up to 2100
        dt = epoch + timedelta(microseconds=us)
        assert to_us(dt) == us and from_us(us) == dt
    with pytest.raises(ValueError):
        to_us(datetime(2030, 1, 1))  # naive


def test_cursor_rejects_garbage() -> None:
    for bad in ["", "Og", "YWJj", "MTIzOg", "\u00e9"]:
        with pytest.raises(ValueError):
            decode_cursor(bad)


async def test_dependents_made_before_0014_are_still_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0014 flags the jobs that already had dependents; without the backfill a waiting
    job made by an older lro would never be released by its dependency's completion."""
    path = tmp_path / "lro.db"
    assert MIGRATIONS[-1].name == "dependents"
    with monkeypatch.context() as old:
        old.setattr(sqlite_schema, "MIGRATIONS", MIGRATIONS[:-1])
        old.setattr(sqlite_schema, "LATEST_VERSION", LATEST_VERSION - 1)
        store = SQLiteStore(path)
        await store.open()
        child = await make_waiting_child(store)
        await store.close()
    assert versions(path)[-1] == LATEST_VERSION - 1
    store = SQLiteStore(path)
    await store.open()
    try:
        await complete_parent_releases(store, child)
    finally:
        await store.close()
