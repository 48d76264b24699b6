"""The SQLite connection layer: one file in WAL mode, and the threads that own its
connections. Every part of the backend (jobs, outbox, quotas, blobs) reads and writes
through `Database`, and nothing else touches a connection.

Threading: the stdlib `sqlite3` driver, with one writer connection owned by one thread and
one reader connection owned by another. A part runs its whole transaction as a single
synchronous function on the right thread (`write(fn)`, `read(fn)`), so a call costs one
thread hop however many statements it runs, and polls (reads) never queue behind claims
(writes). Short indexed reads can run on the event loop itself (`read_inline`).

Short writes run on the event loop too (`write(fn, inline=True)`: a submit of a few jobs,
a worker's claim, completions, heartbeats and progress), on a write connection of the
loop's own. The writer thread costs them more than their
SQL: two thread hops (~200 us of CPU for a lone submit), and, worse, the GIL. The thread
releases it around every statement and must take it back after each; while the loop is
busy it gets it only when the loop idles or at the interpreter's switch interval (5 ms),
so under load the loop and the writer took turns instead of overlapping (a submit's wall
time was the sum of both threads' CPU). Measured in docs/benchmarks.md. The loop's
connection never waits: its busy timeout is 0, and a group it cannot begin at once
(another process holds the write lock) goes to the writer thread, which waits as before.
Nor does it ever checkpoint (`wal_autocheckpoint = 0`: a checkpoint syncs the database
file); after every `INLINE_CHECKPOINT_EVERY` inline commits, the next group goes to the
writer thread, which runs a passive checkpoint before it. The checkpoint must take its
turn in the queue like a write: run beside the loop's commits it could never catch up
with them, and SQLite restarts the WAL from its beginning only once a checkpoint has
copied every frame, so the file grew without bound under steady writes (467 MB after
33,600 submits). Everything else (sweeps, rescues, deliveries, blobs, large
batches) runs on the writer thread, so the loop keeps answering while it runs.

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
import logging
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
_Entry = tuple[WriteFn[object], "asyncio.Future[object]", bool]
"""A queued write: its function, its caller's future, and whether it may run inline."""
_Group = tuple[
    list[_Entry],
    "asyncio.Future[list[tuple[object, Changes] | _Failed]]",
]
"""Writes taken from the queue, and the writer thread's run of them."""

_log = logging.getLogger("lro.store.sqlite")

_INLINE_BUSY_MS = 50
"""Longest the event loop may wait on a busy file in a point read before handing it off."""

MAX_GROUP = 64
"""Most writes one transaction takes (group commit): bounds how long the first of them
waits for the others to run."""

INLINE_ROWS = 32
"""Most rows a write may touch to be marked `inline` by its caller (a submit of a few
jobs, a worker's claim, completions, heartbeats, progress): ~50 us of SQLite per row."""

MAX_INLINE_GROUP = 16
"""Most inline writes one group on the loop takes: bounds how long it holds the loop."""

INLINE_CHECKPOINT_EVERY = 100
"""Inline commits between two passive WAL checkpoints, which run on the writer thread in
the queue's turn (module docstring). The loop's connection never checkpoints itself
(`wal_autocheckpoint = 0`): a checkpoint copies pages into the database file and syncs
it, which would stall every request on the loop. A hundred submits are about a thousand
WAL pages, SQLite's own threshold."""


class _Failed:
    """The outcome of a grouped write function that raised: its savepoint was rolled back."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def _run_group(
    fns: list[WriteFn[object]], conn: sqlite3.Connection
) -> list[tuple[object, Changes] | _Failed]:
    """All of `fns` in one `BEGIN IMMEDIATE` transaction (`_run_begun`)."""
    conn.execute("BEGIN IMMEDIATE")
    return _run_begun(fns, conn)


def _run_begun(
    fns: list[WriteFn[object]], conn: sqlite3.Connection
) -> list[tuple[object, Changes] | _Failed]:
    """`fns` inside the transaction the caller began, then COMMIT. A lone function runs
    as it is, and its exception is the group's; in a group each runs in a savepoint of its
    own, and an exception rolls back that savepoint and becomes its outcome. One that
    leaves no transaction behind (SQLite rolled it all back, as on SQLITE_FULL), an error
    undoing a savepoint, or a failed COMMIT is raised: then nothing of the group was kept.
    """
    outcomes: list[tuple[object, Changes] | _Failed] = []
    try:
        if len(fns) == 1:
            outcomes.append(fns[0](conn))
        else:
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
        self._iwconn: sqlite3.Connection | None = None
        self._queue: list[_Entry] = []
        """Writes waiting for the writer thread's next group (see `write`)."""
        self._flusher: asyncio.Task[None] | None = None
        self._inline_commits = 0
        """Inline commits since the last passive checkpoint (INLINE_CHECKPOINT_EVERY)."""
        self.checkpoints = 0
        """Passive checkpoints run for the inline commits (tests read it)."""
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
            # Short writes commit on the event loop too (`write(fn, inline=True)`):
            # without waiting for a busy file, and never checkpointing (module docstring).
            self._iwconn = connect(self.path, busy_timeout_ms=0)
            self._iwconn.execute("PRAGMA wal_autocheckpoint = 0")
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
        for inline in (self._iconn, self._iwconn):
            if inline is not None:
                inline.close()
        self._iconn = self._iwconn = None

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
    def _begin(self, writer: bool, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Start `fn(conn)` on the writer or reader thread; `_finish` awaits it. Never
        raises: a store that is not open gives a future that already failed."""
        executor = self._writer if writer else self._reader
        conn = self._wconn if writer else self._rconn
        loop = asyncio.get_running_loop()
        try:
            if self.closed or executor is None or conn is None:
                raise StoreUnavailable("the SQLite store is not open")
            return loop.run_in_executor(executor, fn, conn)
        except (StoreUnavailable, RuntimeError) as exc:  # RuntimeError: shut down meanwhile
            failed: asyncio.Future[T] = loop.create_future()
            failed.set_exception(exc)
            return failed

    async def _finish(self, pending: asyncio.Future[T], writer: bool) -> T:
        """The outcome of a call `_begin` started, its driver errors mapped."""
        try:
            result = await pending
        except sqlite3.Error as exc:
            raise self._mapped(exc, writer) from exc
        except RuntimeError as exc:  # the executor was shut down by a concurrent close()
            if self.closed:
                raise StoreUnavailable("the SQLite store is closed") from exc
            raise
        if writer:
            self.full = False
        return result

    async def _call(self, writer: bool, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` on the writer or reader thread; one hop per protocol call."""
        return await self._finish(self._begin(writer, fn), writer)

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

    async def write(self, fn: WriteFn[T], *, inline: bool = False) -> T:
        """Run `fn` in a `BEGIN IMMEDIATE` transaction on the writer thread, grouped with
        the writes that queued meanwhile (module docstring); after the commit, hand the
        changes it returned to the listeners, then answer. `inline`: `fn` writes a few
        rows, and a group of only such writes runs on the event loop's own connection."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        self._queue.append((fn, future, inline))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await future  # type: ignore[return-value]

    def _next_group(self) -> _Group:
        """Take the next writes from the queue and start them: the inline writes at its
        head (at most MAX_INLINE_GROUP) on the loop's connection, else up to MAX_GROUP
        writes, inline or not, on the writer thread. Either way in queue order."""
        queue = self._queue
        due = self._inline_commits >= INLINE_CHECKPOINT_EVERY
        # The loop's connection for an inline head of the queue, else None: the writer.
        conn = self._iwconn if queue[0][2] and not due else None
        n = MAX_GROUP if conn is None else 1
        while conn is not None and n < len(queue) and n < MAX_INLINE_GROUP and queue[n][2]:
            n += 1
        group = queue[:n]
        del queue[:n]
        fns = [fn for fn, _, _ in group]
        if conn is not None:
            ran: asyncio.Future[list[tuple[object, Changes] | _Failed]]
            ran = asyncio.get_running_loop().create_future()
            try:
                outcomes = self._run_inline(conn, fns)
            except Exception as exc:
                ran.set_exception(exc)
                return group, ran
            if outcomes is not None:
                ran.set_result(outcomes)
                return group, ran
        if due:
            self._inline_commits = 0
            return group, self._begin(True, functools.partial(self._checkpoint_then, fns))
        return group, self._begin(True, functools.partial(_run_group, fns))

    def _checkpoint_then(
        self, fns: list[WriteFn[object]], conn: sqlite3.Connection
    ) -> list[tuple[object, Changes] | _Failed]:
        """On the writer thread: a passive checkpoint, then the group. No write of this
        process commits meanwhile, so the checkpoint can copy every frame and the group's
        first write restarts the WAL. A failed checkpoint fails nothing: the next one (or
        the writer connection's own automatic one) tries again."""
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as exc:
            _log.debug("passive WAL checkpoint failed: %r", exc)
        return _run_group(fns, conn)

    def _run_inline(
        self, conn: sqlite3.Connection, fns: list[WriteFn[object]]
    ) -> list[tuple[object, Changes] | _Failed] | None:
        """The group, run on the loop's own write connection; None when another
        connection holds the file's write lock (BEGIN IMMEDIATE was refused at once, so
        nothing ran): then the writer thread, which may wait for it, takes the group."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_unavailable(exc):
                return None
            raise
        outcomes = _run_begun(fns, conn)
        self._inline_commits += 1
        return outcomes

    async def _flush(self) -> None:
        """Run the queued writes a group at a time and answer each, until none waits. The
        task first runs after the callbacks already ready, so a burst of writes made in
        one turn of the loop is one group. The next group is started before this one's
        callers are answered, so the writer thread runs it meanwhile."""
        current = self._next_group() if self._queue else None
        try:
            while current is not None:
                group, pending = current
                try:
                    outcomes = await self._finish(pending, True)
                except Exception as exc:
                    current = self._next_group() if self._queue else None
                    for _, future, _ in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException as exc:  # cancelled: the callers must not hang
                    for _, future, _ in group:
                        if not future.done():
                            future.set_exception(StoreUnavailable(f"write interrupted: {exc!r}"))
                    raise
                current = self._next_group() if self._queue else None
                changes = [c for o in outcomes if not isinstance(o, _Failed) for c in o[1]]
                try:
                    if changes:
                        self.after_commit()
                    self.listeners.dispatch(changes)
                except Exception:  # a hook's failure must not stop the groups behind
                    _log.exception("a change hook failed after a commit")
                finally:  # committed: every caller is answered, whatever a hook did
                    for (_, future, _), outcome in zip(group, outcomes, strict=True):
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
