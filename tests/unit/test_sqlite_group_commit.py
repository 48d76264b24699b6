"""The SQLite writer's group commit (store/sqlite/connection.py): writes queued while the
writer is busy share one transaction, each in its own savepoint, and every caller is
answered after that transaction's COMMIT. A real database file; no stand-ins."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lro.models import Status
from lro.store.sqlite.connection import Changes, Database, WriteFn
from lro.store.types import JobChange


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(str(tmp_path / "lro.db"))
    await database.open()
    await database.write(lambda c: (c.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)"), []))
    try:
        yield database
    finally:
        await database.close()


def insert(x: int, *, fail: bool = False) -> WriteFn[int]:
    def fn(conn: sqlite3.Connection) -> tuple[int, Changes]:
        conn.execute("INSERT INTO t (x) VALUES (?)", (x,))
        if fail:
            raise ValueError(f"refused {x}")
        return x, [JobChange(f"job-{x}", 1, Status.QUEUED)]

    return fn


async def stored(db: Database) -> list[int]:
    rows = await db.read(lambda c: c.execute("SELECT x FROM t ORDER BY x").fetchall())
    return [r[0] for r in rows]


async def test_concurrent_writes_share_one_commit_and_each_gets_its_own_answer(
    db: Database,
) -> None:
    commits: list[int] = []
    db.after_commit = lambda: commits.append(1)
    heard: list[str] = []
    db.listeners.add(lambda change: heard.append(change.job_id))
    results = await asyncio.gather(*(db.write(insert(x)) for x in range(20)))
    assert results == list(range(20))
    assert len(commits) == 1  # one transaction for the group: one cross-process wake-up
    assert heard == [f"job-{x}" for x in range(20)]
    assert await stored(db) == list(range(20))


async def test_a_failing_write_rolls_back_alone(db: Database) -> None:
    heard: list[str] = []
    db.listeners.add(lambda change: heard.append(change.job_id))
    calls = [db.write(insert(x, fail=x == 5)) for x in range(10)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[5], ValueError) and str(results[5]) == "refused 5"
    assert [r for i, r in enumerate(results) if i != 5] == [x for x in range(10) if x != 5]
    assert await stored(db) == [x for x in range(10) if x != 5]
    assert heard == [f"job-{x}" for x in range(10) if x != 5]  # no change of a rollback


async def test_a_driver_error_in_one_write_leaves_the_group_standing(db: Database) -> None:
    await db.write(insert(1))
    results = await asyncio.gather(
        db.write(insert(2)),
        db.write(insert(1)),  # primary key taken: IntegrityError
        db.write(insert(3)),
        return_exceptions=True,
    )
    assert results[0] == 2 and results[2] == 3
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert await stored(db) == [1, 2, 3]


async def test_a_cancelled_caller_does_not_undo_its_write_or_the_others(db: Database) -> None:
    first = asyncio.ensure_future(db.write(insert(1)))
    second = asyncio.ensure_future(db.write(insert(2)))
    await asyncio.sleep(0)  # both queued
    first.cancel()
    assert await second == 2
    with pytest.raises(asyncio.CancelledError):
        await first
    # The write was handed to the writer before its caller left, as with any thread hop.
    assert await stored(db) == [1, 2]


async def test_writes_after_the_store_closed_fail_as_unavailable(db: Database) -> None:
    from lro.errors import StoreUnavailable

    await db.close()
    with pytest.raises(StoreUnavailable):
        await db.write(insert(1))
