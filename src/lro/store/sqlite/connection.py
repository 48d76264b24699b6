"""The SQLite connection layer: one file in WAL mode, and the threads that own its
connections. Every part of the backend (jobs, outbox, quotas, blobs) reads and writes
through `Database`, and nothing else touches a connection.

Threading: the stdlib `sqlite3` driver, with one writer connection owned by one thread and
one reader connection owned by another. A part runs its whole transaction as a single
synchronous function on the right thread (`write(fn)`, `read(fn)`), so a call costs one
thread hop however many statements it runs, and polls (reads) never queue behind claims
(writes). Short indexed reads can run on the event loop itself (`read_inline`).

Multi-process safety: every write transaction starts with `BEGIN IMMEDIATE`, which takes
SQLite's single write lock up front (waiting up to `busy_timeout`), so a read-then-write
such as a claim or an idempotent insert cannot interleave with another process's.

Change delivery: a write function returns the `JobChange`s it made beside its result, and
`write` hands them to the in-process `listeners` after the commit (never for a rollback).

Group commit: writes that arrive while the writer thread is busy wait in a queue, and the
next turn runs all of them (up to `MAX_GROUP`) in ONE transaction, each function inside its
own savepoint. Under concurrent submits that is one BEGIN/COMMIT, one thread hop and one
cross-process wake-up per group instead of per write. A function that raises has its
savepoint rolled back and gets its own exception; the others commit. Every caller is
answered only after the COMMIT that made its write durable (a failed COMMIT fails them
all, as nothing of theirs was kept). A lone write runs exactly as before: one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from lro.errors import StoreUnavailable
from lro.store.changes import Listeners
from lro.store.sqlite.schema import connect, is_disk_full, is_unavailable, migrate_connection
from lro.store.types import JobChange

T = TypeVar("T")
Changes = list[JobChange]
WriteFn = Callable[[sqlite3.Connection], tuple[T, Changes]]

_INLINE_BUSY_MS = 50
"""Longest the event loop may wait on a busy file in a point read before handing it off."""

MAX_GROUP = 64
"""Most writes one transaction takes (group commit): bounds how long the first of them
waits for the others to run."""


def _run_in_transaction(conn: sqlite3.Connection, fn: WriteFn[T]) -> tuple[T, Changes]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        out = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    return out


class _Failed:
    """The outcome of a grouped write function that raised: its savepoint was rolled back."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def _run_group(
    fns: list[WriteFn[object]], conn: sqlite3.Connection
) -> list[tuple[object, Changes] | _Failed]:
    """All of `fns` in one `BEGIN IMMEDIATE` transaction, each in a savepoint of its own.

    A function's exception rolls back its own savepoint and becomes its outcome; one that
    leaves no transaction behind (SQLite rolled it all back, as on SQLITE_FULL), an error
    undoing a savepoint, or a failed COMMIT is raised: then nothing of the group was kept.
    """
    if len(fns) == 1:
        return [_run_in_transaction(conn, fns[0])]
    outcomes: list[tuple[object, Changes] | _Failed] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for fn in fns:
            conn.execute("SAVEPOINT lro_write")
            try:
                out = fn(conn)
            except Exception as exc:
                if not conn.in_transaction:
                    raise
                conn.execute("ROLLBACK TO lro_write")
                conn.execute("RELEASE lro_write")
                outcomes.append(_Failed(exc))
                continue
            conn.execute("RELEASE lro_write")
            outcomes.append(out)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    return outcomes


def _nothing() -> None:
    pass


class Database:
    """The file's writer, reader and inline connections, and the store's listeners."""

    def __init__(self, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        """How long a write waits for another process's write lock before the call
        fails with StoreUnavailable."""
        self.listeners = Listeners()
        """In-process change listeners; `write` dispatches to them after each commit."""
        self.after_commit: Callable[[], None] = _nothing
        """Called after each commit that changed a job: tells other processes (poll.py)."""
        self._writer: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._iconn: sqlite3.Connection | None = None
        self._queue: list[tuple[WriteFn[object], asyncio.Future[object]]] = []
        """Writes waiting for the writer thread's next group (see `write`)."""
        self._flusher: asyncio.Task[None] | None = None
        self.opened = False
        self.closed = False
        self.full = False
        """The last write failed for want of disk space (SQLITE_FULL); cleared by the next
        write that succeeds. Readiness looks at it (SQLiteStore.ping)."""

    # -- lifecycle ----------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and migrate. On failure everything opened so far is closed again."""
        if self.closed:
            raise StoreUnavailable("this store was closed; create a new one")
        if self.opened:
            return
        loop = asyncio.get_running_loop()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="lro-sqlite-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="lro-sqlite-reader")
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._wconn = await loop.run_in_executor(
                self._writer, lambda: connect(self.path, busy_timeout_ms=self.busy_timeout_ms)
            )
            await loop.run_in_executor(self._writer, migrate_connection, self._wconn)
            self._rconn = await loop.run_in_executor(
                self._reader,
                lambda: connect(self.path, readonly=True, busy_timeout_ms=self.busy_timeout_ms),
            )
            # Point reads run on the event loop itself: an indexed lookup takes ~20 us, a
            # hop to the reader thread ~250 us. WAL readers never wait for writers, and a
            # short busy timeout bounds the rare wait (then the read falls back to the
            # reader thread), so this cannot stall the loop.
            self._iconn = connect(self.path, readonly=True, busy_timeout_ms=_INLINE_BUSY_MS)
        except (sqlite3.Error, OSError) as exc:
            await self.shutdown()
            if isinstance(exc, sqlite3.Error) and not is_unavailable(exc):
                raise
            raise StoreUnavailable(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        except BaseException:
            await self.shutdown()
            raise
        self.opened = True

    async def close(self) -> None:
        self.closed = True
        await self.shutdown()

    async def shutdown(self) -> None:
        loop = asyncio.get_running_loop()
        for executor, conn in ((self._writer, self._wconn), (self._reader, self._rconn)):
            if executor is None:
                continue
            if conn is not None:
                # Queued behind any call still running, on the thread that owns the conn.
                await loop.run_in_executor(executor, conn.close)
            executor.shutdown(wait=False)
        self._writer = self._reader = None
        self._wconn = self._rconn = None
        if self._iconn is not None:
            self._iconn.close()
            self._iconn = None

    async def migrate(self) -> int:
        """Migrate on the writer thread when open, else on a connection of its own."""
        if self.opened and not self.closed:
            return await self._call(True, migrate_connection)

        def run() -> int:
            conn = connect(self.path, busy_timeout_ms=self.busy_timeout_ms)
            try:
                return migrate_connection(conn)
            finally:
                conn.close()

        try:
            return await asyncio.to_thread(run)
        except sqlite3.Error as exc:
            if not is_unavailable(exc):
                raise
            raise StoreUnavailable(f"cannot migrate {self.path!r}: {exc}") from exc

    # -- calls ----------------------------------------------------------------------------
    async def _call(self, writer: bool, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` on the writer or reader thread; one hop per protocol call."""
        executor = self._writer if writer else self._reader
        conn = self._wconn if writer else self._rconn
        if self.closed or executor is None or conn is None:
            raise StoreUnavailable("the SQLite store is not open")
        try:
            result = await asyncio.get_running_loop().run_in_executor(executor, fn, conn)
        except sqlite3.Error as exc:
            raise self._mapped(exc, writer) from exc
        except RuntimeError as exc:  # the executor was shut down by a concurrent close()
            if self.closed:
                raise StoreUnavailable("the SQLite store is closed") from exc
            raise
        if writer:
            self.full = False
        return result

    def _mapped(self, exc: Exception, writer: bool) -> Exception:
        """What a caller sees of a driver error: StoreUnavailable for a busy, locked or
        missing file (or a full disk, which readiness also hears of), else the error."""
        if not isinstance(exc, sqlite3.Error):
            return exc
        if writer and is_disk_full(exc):
            self.full = True
        if not is_unavailable(exc):
            return exc
        unavailable = StoreUnavailable(f"SQLite database {self.path!r} unavailable: {exc}")
        unavailable.__cause__ = exc
        return unavailable

    async def write(self, fn: WriteFn[T]) -> T:
        """Run `fn` in a `BEGIN IMMEDIATE` transaction on the writer thread, grouped with
        the writes that queued meanwhile (module docstring); after the commit, hand the
        changes it returned to the listeners, then answer."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        self._queue.append((fn, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await future  # type: ignore[return-value]

    async def _flush(self) -> None:
        """Run the queued writes, a group per turn of the writer thread, until none wait."""
        try:
            while self._queue:
                group = self._queue[:MAX_GROUP]
                del self._queue[:MAX_GROUP]
                fns = [fn for fn, _ in group]
                try:
                    outcomes = await self._call(True, functools.partial(_run_group, fns))
                except Exception as exc:
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException as exc:  # cancelled: the callers must not hang
                    for _, future in group:
                        if not future.done():
                            future.set_exception(StoreUnavailable(f"write interrupted: {exc!r}"))
                    raise
                changes = [c for o in outcomes if not isinstance(o, _Failed) for c in o[1]]
                try:
                    if changes:
                        self.after_commit()
                    self.listeners.dispatch(changes)
                finally:  # committed: every caller is answered, whatever a hook did
                    for (_, future), outcome in zip(group, outcomes, strict=True):
                        if future.done():  # its caller was cancelled; the write stands
                            continue
                        if isinstance(outcome, _Failed):
                            future.set_exception(self._mapped(outcome.error, True))
                        else:
                            future.set_result(outcome[0])
        finally:
            self._flusher = None

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the reader thread (autocommit: begin a transaction in `fn` for a
        consistent read of several statements)."""
        return await self._call(False, fn)

    async def read_inline(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A short indexed read on the loop thread; the reader thread if the file is busy."""
        conn = self._iconn
        if self.closed or conn is None:
            raise StoreUnavailable("the SQLite store is not open")
        try:
            return fn(conn)
        except sqlite3.OperationalError as exc:
            if not is_unavailable(exc):
                raise
            return await self.read(fn)
