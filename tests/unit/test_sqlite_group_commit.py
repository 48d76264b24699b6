"""The SQLite writer's group commit (store/sqlite/connection.py): writes queued while the
writer is busy share one transaction, each in its own savepoint, and every caller is
answered after that transaction's COMMIT. A real database file; no stand-ins."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
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


# -- inline writes (write(fn, inline=True)): a group of only short writes commits on the
# event loop's own connection, and hands over to the writer thread when the file is busy.


def insert_noting_thread(x: int, threads: list[int]) -> WriteFn[int]:
    def fn(conn: sqlite3.Connection) -> tuple[int, Changes]:
        threads.append(threading.get_ident())
        conn.execute("INSERT INTO t (x) VALUES (?)", (x,))
        return x, [JobChange(f"job-{x}", 1, Status.QUEUED)]

    return fn


async def test_a_burst_of_inline_writes_is_one_commit_on_the_loop_thread(db: Database) -> None:
    commits: list[int] = []
    db.after_commit = lambda: commits.append(1)
    heard: list[str] = []
    db.listeners.add(lambda change: heard.append(change.job_id))
    threads: list[int] = []
    calls = (db.write(insert_noting_thread(x, threads), inline=True) for x in range(10))
    assert await asyncio.gather(*calls) == list(range(10))
    assert set(threads) == {threading.get_ident()}
    assert len(commits) == 1
    assert heard == [f"job-{x}" for x in range(10)]
    assert await stored(db) == list(range(10))


async def test_inline_writes_behind_a_thread_write_go_with_it_in_queue_order(
    db: Database,
) -> None:
    loop_thread = threading.get_ident()
    threads: list[tuple[int, int]] = []

    def noting(x: int) -> WriteFn[int]:
        def fn(conn: sqlite3.Connection) -> tuple[int, Changes]:
            threads.append((x, threading.get_ident()))
            conn.execute("INSERT INTO t (x) VALUES (?)", (x,))
            return x, []

        return fn

    await asyncio.gather(
        db.write(noting(1), inline=True),
        db.write(noting(2)),
        db.write(noting(3), inline=True),
    )
    assert [x for x, _ in threads] == [1, 2, 3]
    assert threads[0][1] == loop_thread  # the inline head of the queue: on the loop
    assert threads[1][1] == threads[2][1] != loop_thread  # the rest: one writer group
    assert await stored(db) == [1, 2, 3]


async def test_an_inline_group_is_bounded(db: Database) -> None:
    from lro.store.sqlite.connection import MAX_INLINE_GROUP

    commits: list[int] = []
    db.after_commit = lambda: commits.append(1)
    calls = (db.write(insert(x), inline=True) for x in range(MAX_INLINE_GROUP + 1))
    await asyncio.gather(*calls)
    assert len(commits) == 2
    assert await stored(db) == list(range(MAX_INLINE_GROUP + 1))


async def test_a_failing_inline_write_rolls_back_alone(db: Database) -> None:
    calls = [db.write(insert(x, fail=x == 3), inline=True) for x in range(6)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[3], ValueError)
    assert await stored(db) == [0, 1, 2, 4, 5]
    await db.write(insert(6), inline=True)  # driver errors are raised as from the thread
    with pytest.raises(sqlite3.IntegrityError):
        await db.write(insert(6), inline=True)


async def test_an_inline_write_waits_for_a_busy_file_on_the_writer_thread(
    db: Database, tmp_path: Path
) -> None:
    """Another process's write lock: the loop must not wait for it (the inline connection
    gives up at once), and the write must still happen once the lock is released."""
    other = sqlite3.connect(str(tmp_path / "lro.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    threads: list[int] = []
    try:
        write = asyncio.ensure_future(db.write(insert_noting_thread(7, threads), inline=True))
        for _ in range(5):
            await asyncio.sleep(0.01)  # the loop keeps turning while the lock is held
        assert not write.done()
    finally:
        other.execute("COMMIT")
        other.close()
    assert await write == 7
    assert threads and threading.get_ident() not in threads
    assert await stored(db) == [7]


async def test_inline_commits_are_checkpointed_by_the_writer_thread(db: Database) -> None:
    """The loop's connection never checkpoints (wal_autocheckpoint = 0): after every
    INLINE_CHECKPOINT_EVERY of its commits, the next group runs on the writer thread
    behind a passive checkpoint."""
    from lro.store.sqlite.connection import INLINE_CHECKPOINT_EVERY

    for x in range(INLINE_CHECKPOINT_EVERY):
        await db.write(insert(x), inline=True)
    assert db.checkpoints == 0
    threads: list[int] = []
    await db.write(insert_noting_thread(INLINE_CHECKPOINT_EVERY, threads), inline=True)
    assert db.checkpoints == 1
    assert threads and threading.get_ident() not in threads
    assert await stored(db) == list(range(INLINE_CHECKPOINT_EVERY + 1))


async def test_the_wal_stays_bounded_under_steady_inline_writes(db: Database) -> None:
    """SQLite reuses the WAL from its start only after a checkpoint copied every frame in
    it. A checkpoint run beside the loop's commits never catches up with them, and the
    file grew without bound; in the queue's turn, the WAL restarts after each one. Every
    commit adds at least one frame, so without restarts the WAL would hold over ten
    times INLINE_CHECKPOINT_EVERY frames here."""
    from lro.store.sqlite.connection import INLINE_CHECKPOINT_EVERY

    commits = 10 * INLINE_CHECKPOINT_EVERY
    for x in range(commits):  # a steady stream: each wave of two is one inline commit
        await asyncio.gather(
            db.write(insert(2 * x), inline=True), db.write(insert(2 * x + 1), inline=True)
        )
    assert db.checkpoints >= 9
    busy, frames, _ = await db.read(
        lambda c: c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    )
    assert busy == 0
    assert frames <= 4 * INLINE_CHECKPOINT_EVERY
    assert len(await stored(db)) == 2 * commits
