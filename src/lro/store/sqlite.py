"""The SQLite backend: one file in WAL mode, shared by the API and worker processes.

Threading: the stdlib `sqlite3` driver, with one writer connection owned by one thread and
one reader connection owned by another. Every protocol method runs its whole transaction
as a single synchronous function on its thread, so a call costs one thread hop however
many statements it runs, and polls (reads) never queue behind claims (writes).

Multi-process safety: every write transaction starts with `BEGIN IMMEDIATE`, which takes
SQLite's single write lock up front (waiting up to `busy_timeout`), so a read-then-write
such as a claim or an idempotent insert cannot interleave with another process's.

Change delivery: after a write commits, listeners get one `JobChange` per changed job on
the event loop. While any listener is registered, a task also polls the `events` table by
its AUTOINCREMENT id every `poll_interval` seconds to deliver other processes' changes
(our own come back too; listeners re-read, so duplicates are harmless). The poll cursor is
taken when the store opens and kept across pauses, so nothing committed after `open()` is
missed by a listener added later. `events.cancel_requested` marks the change that asked a
processing job to stop, so polled changes carry `JobChange.cancel_requested` too.

The `events` rows themselves are written by triggers (see migrations/0001_init.sql), so
every version bump has exactly one event whatever statement made it.

Row mapping, JSON and time conversions live in `lro.store.sqlite_rows`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from lro.errors import KeyReused, StoreUnavailable
from lro.models import (
    TERMINAL,
    Completion,
    Failure,
    HeartbeatResult,
    Inserted,
    Job,
    Lease,
    ListQuery,
    NewJob,
    Page,
    ProgressUpdate,
    Status,
    Swept,
    Tombstone,
)
from lro.store.base import (
    ClaimParams,
    JobChange,
    JobCount,
    JobEvent,
    Listener,
    RescueParams,
    SweepParams,
    dispatch,
    worker_lost_error,
)
from lro.store.migrate import load_queries
from lro.store.sqlite_blobs import SQLiteBlobs
from lro.store.sqlite_limits import SQLiteLimits
from lro.store.sqlite_outbox import SQLiteOutbox
from lro.store.sqlite_rows import (
    COL_EXPIRES_AT,
    COL_IDEMPOTENCY_EXPIRES_AT,
    COL_PRIORITY,
    COL_RUN_AT,
    COL_SEQ,
    COL_STATUS,
    STATUS,
    change_of,
    decode_cursor,
    encode_cursor,
    from_us,
    job_from_row,
    new_job_row,
    result_ref_from_json,
    seconds_to_us,
    to_json,
    to_us,
)
from lro.store.sqlite_schema import connect, is_unavailable, migrate_connection
from lro.tasks import cancel_and_wait

log = logging.getLogger(__name__)

T = TypeVar("T")
Changes = list[JobChange]

Q = load_queries("sqlite")

_TERMINAL_VALUES = frozenset(s.value for s in TERMINAL)
_POLL_PAGE = 1000
_INLINE_BUSY_MS = 50
"""Longest the event loop may wait on a busy file in a point read before handing it off."""
_FIRST_PAGE = (2**63 - 1, "")  # a keyset cursor past every row (see list_jobs in queries.sql)


def _event(r: Any) -> JobEvent:
    return JobEvent(r[0], r[1], r[2], STATUS[r[3]], r[4], r[5], r[6], from_us(r[7]))


def _events_since(conn: sqlite3.Connection, after: int) -> list[Any]:
    return conn.execute(Q["events_since"], (after, _POLL_PAGE)).fetchall()


def _run_in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
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


class SQLiteStore:
    """The Store protocol on one SQLite file (see the module docstring for the design)."""

    supports_listen = False
    embedded = True
    handoffs: None = None
    """In one process a queued job wakes the claim loop at once; across processes on one
    SQLite file the poll decides pickup, so a hand-off would save nothing."""

    def __init__(
        self, path: str | Path, *, poll_interval: float = 0.02, busy_timeout_ms: int = 5000
    ) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.path = str(path)
        self.poll_interval = poll_interval
        self.busy_timeout_ms = busy_timeout_ms
        """How long a write waits for another process's write lock before the call
        fails with StoreUnavailable."""
        self._writer: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._iconn: sqlite3.Connection | None = None
        self._opened = False
        self._closed = False
        self._listeners: list[Listener] = []
        self._poll_task: asyncio.Task[None] | None = None
        self._event_cursor = 0
        self.outbox = SQLiteOutbox(self)
        self.limits = SQLiteLimits(self)
        self.blobs = SQLiteBlobs(self)

    @classmethod
    def from_url(cls, url: str, *, poll_interval: float = 0.02) -> SQLiteStore:
        """`sqlite:///relative/path.db` or `sqlite:////absolute/path.db`."""
        prefix = "sqlite:///"
        path = url[len(prefix) :].split("?", 1)[0] if url.startswith(prefix) else ""
        if not path or path == ":memory:":
            raise ValueError(
                f"unsupported SQLite URL {url!r}: use sqlite:///relative/path.db or "
                f"sqlite:////absolute/path.db (an in-memory database cannot be shared)"
            )
        return cls(path, poll_interval=poll_interval)

    # -- lifecycle ----------------------------------------------------------------------
    async def open(self) -> None:
        if self._closed:
            raise StoreUnavailable("this store was closed; create a new one")
        if self._opened:
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
            rconn = await loop.run_in_executor(
                self._reader,
                lambda: connect(self.path, readonly=True, busy_timeout_ms=self.busy_timeout_ms),
            )
            self._rconn = rconn
            # Point reads run on the event loop itself: an indexed lookup takes ~20 us, a
            # hop to the reader thread ~250 us. WAL readers never wait for writers, and a
            # short busy timeout bounds the rare wait (then the read falls back to the
            # reader thread), so this cannot stall the loop.
            self._iconn = connect(self.path, readonly=True, busy_timeout_ms=_INLINE_BUSY_MS)
            self._event_cursor = await loop.run_in_executor(
                self._reader, lambda: int(rconn.execute(Q["last_event_id"]).fetchone()[0])
            )
        except (sqlite3.Error, OSError) as exc:
            await self._shutdown()
            if isinstance(exc, sqlite3.Error) and not is_unavailable(exc):
                raise
            raise StoreUnavailable(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        except BaseException:
            await self._shutdown()
            raise
        self._opened = True
        self._ensure_poller()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        task, self._poll_task = self._poll_task, None
        await cancel_and_wait([task])
        await self._shutdown()

    async def _shutdown(self) -> None:
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
        if self._opened and not self._closed:
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

    async def ping(self) -> None:
        await self._read(lambda c: c.execute("SELECT 1").fetchone())

    # -- plumbing -----------------------------------------------------------------------
    async def _call(self, writer: bool, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` on the writer or reader thread; one hop per protocol call."""
        executor = self._writer if writer else self._reader
        conn = self._wconn if writer else self._rconn
        if self._closed or executor is None or conn is None:
            raise StoreUnavailable("the SQLite store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, conn)
        except sqlite3.Error as exc:
            if not is_unavailable(exc):
                raise
            raise StoreUnavailable(f"SQLite database {self.path!r} unavailable: {exc}") from exc
        except RuntimeError as exc:  # the executor was shut down by a concurrent close()
            if self._closed:
                raise StoreUnavailable("the SQLite store is closed") from exc
            raise

    async def _write(self, fn: Callable[[sqlite3.Connection], tuple[T, Changes]]) -> T:
        """One `BEGIN IMMEDIATE` transaction on the writer thread, then local listeners."""
        result, changes = await self._call(True, lambda c: _run_in_transaction(c, fn))
        self._notify(changes)
        return result

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._call(False, fn)

    async def _read_inline(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A short indexed read on the loop thread; the reader thread if the file is busy."""
        conn = self._iconn
        if self._closed or conn is None:
            raise StoreUnavailable("the SQLite store is not open")
        try:
            return fn(conn)
        except sqlite3.OperationalError as exc:
            if not is_unavailable(exc):
                raise
            return await self._read(fn)

    # -- listeners ----------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        self._ensure_poller()

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)
            if not self._listeners and self._poll_task is not None:
                self._poll_task.cancel()
                self._poll_task = None

        return remove

    def _notify(self, changes: Changes) -> None:
        dispatch(self._listeners, changes)

    def _ensure_poller(self) -> None:
        if self._poll_task is not None or not self._listeners:
            return
        if not self._opened or self._closed:
            return  # open() starts it
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # registered outside the loop: open() starts it
        self._poll_task = loop.create_task(self._poll(), name="lro-sqlite-event-poll")

    async def _poll(self) -> None:
        """Deliver changes from other processes by tailing `events` past a cursor.

        The cursor starts at the newest event when the store opens and survives pauses
        (no listeners), so every change committed after `open()` is delivered."""
        while True:
            await asyncio.sleep(self.poll_interval)
            full = True
            while full:  # drain a backlog page by page without sleeping
                try:
                    rows = await self._read_inline(
                        functools.partial(_events_since, after=self._event_cursor)
                    )
                except StoreUnavailable as exc:
                    log.warning("event poll failed, retrying: %s", exc)
                    break
                except Exception:  # never let the poller die silently; keep polling
                    log.exception("event poll failed, retrying")
                    break
                full = len(rows) == _POLL_PAGE
                if rows:
                    self._event_cursor = rows[-1][0]
                    self._notify([JobChange(r[1], r[2], STATUS[r[3]], r[4] == 1) for r in rows])

    # -- submit -------------------------------------------------------------------------
    async def insert_jobs(self, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        if not jobs:
            return []
        now_us = to_us(now)

        def tx(conn: sqlite3.Connection) -> tuple[list[Inserted], Changes]:
            out: list[Inserted] = []
            changes: Changes = []
            for new in jobs:
                if new.idempotency_key is not None:
                    row = conn.execute(
                        Q["find_by_key"], (new.owner, new.idempotency_key)
                    ).fetchone()
                    if row is not None:
                        key_until = row[COL_IDEMPOTENCY_EXPIRES_AT]
                        job_until = row[COL_EXPIRES_AT]
                        if (key_until is None or key_until > now_us) and (
                            job_until is None or job_until > now_us
                        ):
                            holder = job_from_row(row)
                            if holder.request_fingerprint != new.request_fingerprint:
                                raise KeyReused(holder.id)  # rolls the whole batch back
                            out.append(Inserted(holder, created=False))
                            continue
                        # Stale key (its window or its job expired): the new job takes it.
                        conn.execute(Q["release_key"], (row[COL_SEQ],))
                values, job = new_job_row(new, now_us)
                conn.execute(Q["insert_job"], values)
                out.append(Inserted(job, created=True))
                changes.append(JobChange(job.id, 1, Status.QUEUED))
            return out, changes

        return await self._write(tx)

    # -- read ---------------------------------------------------------------------------
    async def get_job(self, job_id: str) -> Job | None:
        row = await self._read_inline(lambda c: c.execute(Q["get_job"], (job_id,)).fetchone())
        return None if row is None else job_from_row(row)

    async def get_tombstone(self, job_id: str, now: datetime) -> Tombstone | None:
        args = (job_id, to_us(now))
        row = await self._read_inline(lambda c: c.execute(Q["get_tombstone"], args).fetchone())
        return None if row is None else Tombstone(row[0], row[1], from_us(row[2]))

    async def list_jobs(self, query: ListQuery, now: datetime) -> Page:
        if query.limit < 1:
            raise ValueError("limit must be at least 1")
        after = _FIRST_PAGE if query.cursor is None else decode_cursor(query.cursor)
        args = {
            "owner": query.owner,
            "after_created": after[0],
            "after_id": after[1],
            "now": to_us(now),
            "operation": query.operation,
            "statuses": json.dumps([Status(s).value for s in query.statuses])
            if query.statuses
            else None,
            "limit": query.limit + 1,
        }
        query_name = "list_jobs" if query.owner is not None else "list_all_jobs"
        rows = await self._read(lambda c: c.execute(Q[query_name], args).fetchall())
        items = [job_from_row(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return Page(items, encode_cursor(items[-1]) if more and items else None)

    async def events_after(self, job_id: str, after_version: int) -> list[JobEvent]:
        args = (job_id, after_version)
        rows = await self._read(lambda c: c.execute(Q["events_after"], args).fetchall())
        return [_event(r) for r in rows]

    async def job_with_events(
        self, job_id: str, after_version: int
    ) -> tuple[Job | None, list[JobEvent]]:
        def read(c: sqlite3.Connection) -> tuple[list[Any], Any]:
            # One read transaction: the job row is at least as new as the events.
            c.execute("BEGIN")
            try:
                events = c.execute(Q["events_after"], (job_id, after_version)).fetchall()
                return events, c.execute(Q["get_job"], (job_id,)).fetchone()
            finally:
                c.execute("COMMIT")

        rows, row = await self._read_inline(read)
        return (None if row is None else job_from_row(row)), [_event(r) for r in rows]

    async def recent_durations(self, operation: str, limit: int = 20) -> list[float]:
        args = (operation, limit)
        rows = await self._read(lambda c: c.execute(Q["recent_durations"], args).fetchall())
        return [float(r[0]) for r in rows]

    async def job_counts(self, owner: str | None, now: datetime) -> list[JobCount]:
        args = {"owner": owner, "now": to_us(now)}
        query = Q["job_counts" if owner is not None else "job_counts_all"]
        rows = await self._read(lambda c: c.execute(query, args).fetchall())
        return [JobCount(r[0], STATUS[r[1]], r[2]) for r in rows]

    async def oldest_queued(self, now: datetime) -> dict[str, datetime]:
        query, args = Q["oldest_queued"], {"now": to_us(now)}
        rows = await self._read(lambda c: c.execute(query, args).fetchall())
        return {r[0]: from_us(r[1]) for r in rows}

    # -- worker -------------------------------------------------------------------------
    async def claim_jobs(self, params: ClaimParams) -> list[Job]:
        if params.limit < 1:
            return []
        args = {
            "now": to_us(params.now),
            "lease_until": to_us(params.now) + seconds_to_us(params.lease_seconds),
            "worker_id": params.worker_id,
            "limit": params.limit,
            "operations": None
            if params.operations is None
            else json.dumps(list(params.operations)),
        }

        def tx(conn: sqlite3.Connection) -> tuple[list[Job], Changes]:
            rows = conn.execute(Q["claim_jobs"], args).fetchall()
            # RETURNING has no defined order; hand jobs out in claim order.
            rows.sort(key=lambda r: (-r[COL_PRIORITY], r[COL_RUN_AT], r[COL_SEQ]))
            jobs = [job_from_row(r) for r in rows]
            return jobs, [change_of(j) for j in jobs]

        return await self._write(tx)

    async def heartbeat(
        self, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> list[HeartbeatResult]:
        if not leases:
            return []
        until = to_us(now) + seconds_to_us(lease_seconds)

        def tx(conn: sqlite3.Connection) -> tuple[list[HeartbeatResult], Changes]:
            out = []
            for lease in leases:
                row = conn.execute(Q["heartbeat"], (until, lease.job_id, lease.token)).fetchone()
                out.append(HeartbeatResult(lease.job_id, row is not None, bool(row and row[0])))
            return out, []

        return await self._write(tx)

    async def set_progress(self, updates: Sequence[ProgressUpdate], now: datetime) -> list[bool]:
        if not updates:
            return []
        now_us = to_us(now)

        def tx(conn: sqlite3.Connection) -> tuple[list[bool], Changes]:
            held: list[bool] = []
            changes: Changes = []
            for u in updates:
                before = conn.total_changes
                row = conn.execute(
                    Q["set_progress"],
                    {
                        "pct": float(u.progress_pct),
                        "step": u.step,
                        "now": now_us,
                        "id": u.lease.job_id,
                        "token": u.lease.token,
                    },
                ).fetchone()
                held.append(row is not None)
                # total_changes also counts the trigger's event row: 2 means a new version.
                if row is not None and conn.total_changes - before > 1:
                    changes.append(JobChange(u.lease.job_id, row[0], STATUS[row[1]]))
            return held, changes

        return await self._write(tx)

    async def _fenced_batch(self, query: str, args: list[dict[str, Any]]) -> list[Job | None]:
        """Run one fenced `... RETURNING` update per item in one transaction."""

        def tx(conn: sqlite3.Connection) -> tuple[list[Job | None], Changes]:
            out: list[Job | None] = []
            changes: Changes = []
            for a in args:
                row = conn.execute(query, a).fetchone()
                if row is None:
                    out.append(None)
                else:
                    job = job_from_row(row)
                    out.append(job)
                    changes.append(change_of(job))
            return out, changes

        return await self._write(tx)

    async def complete_jobs(
        self, completions: Sequence[Completion], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        now_us = to_us(now)
        expires = now_us + seconds_to_us(retention_seconds)
        args = [
            {
                "id": c.lease.job_id,
                "token": c.lease.token,
                "now": now_us,
                "expires_at": expires,
                "result": None if c.result is None else to_json(c.result),
                "result_ref": None if c.result_ref is None else to_json(c.result_ref.to_json()),
                "step": c.step,
            }
            for c in completions
        ]
        return await self._fenced_batch(Q["complete_job"], args) if args else []

    async def fail_job(
        self, failure: Failure, now: datetime, retention_seconds: float
    ) -> Job | None:
        now_us = to_us(now)
        base: dict[str, Any] = {
            "id": failure.lease.job_id,
            "token": failure.lease.token,
            "now": now_us,
        }
        if failure.retry_at is not None:
            base["run_at"] = to_us(failure.retry_at)
            query = Q["retry_job"]
        else:
            base["error"] = to_json(failure.error.to_json())
            base["expires_at"] = now_us + seconds_to_us(retention_seconds)
            query = Q["fail_job"]
        return (await self._fenced_batch(query, [base]))[0]

    async def cancel_running(
        self, lease: Lease, now: datetime, retention_seconds: float
    ) -> Job | None:
        now_us = to_us(now)
        args = {
            "id": lease.job_id,
            "token": lease.token,
            "now": now_us,
            "expires_at": now_us + seconds_to_us(retention_seconds),
        }
        return (await self._fenced_batch(Q["cancel_running"], [args]))[0]

    async def release_jobs(self, leases: Sequence[Lease], now: datetime) -> list[Job | None]:
        now_us = to_us(now)
        args = [{"id": le.job_id, "token": le.token, "now": now_us} for le in leases]
        return await self._fenced_batch(Q["release_job"], args) if args else []

    async def rescue_expired(self, params: RescueParams) -> list[Job]:
        now_us = to_us(params.now)
        expires = now_us + seconds_to_us(params.retention_seconds)
        run_at = now_us + seconds_to_us(params.retry_delay_seconds)

        def tx(conn: sqlite3.Connection) -> tuple[list[Job], Changes]:
            found = conn.execute(
                Q["expired_leases"], {"now": now_us, "limit": params.limit}
            ).fetchall()
            jobs: list[Job] = []
            for seq, attempt, max_attempts, cancel_requested in found:
                args: dict[str, Any] = {"seq": seq, "now": now_us}
                if cancel_requested:
                    query, args["expires_at"] = Q["rescue_cancel"], expires
                elif attempt >= max_attempts:
                    query, args["expires_at"] = Q["rescue_fail"], expires
                    args["error"] = to_json(worker_lost_error(attempt).to_json())
                else:
                    query, args["run_at"] = Q["rescue_requeue"], run_at
                row = conn.execute(query, args).fetchone()
                if row is not None:
                    jobs.append(job_from_row(row))
            return jobs, [change_of(j) for j in jobs]

        return await self._write(tx)

    # -- client actions -------------------------------------------------------------------
    async def request_cancel(
        self, job_id: str, now: datetime, retention_seconds: float
    ) -> Job | None:
        now_us = to_us(now)
        args = {
            "id": job_id,
            "now": now_us,
            "expires_at": now_us + seconds_to_us(retention_seconds),
        }

        def tx(conn: sqlite3.Connection) -> tuple[Job | None, Changes]:
            row = conn.execute(Q["cancel_queued"], args).fetchone()
            if row is not None:
                job = job_from_row(row)
                return job, [change_of(job)]
            row = conn.execute(Q["request_cancel_running"], args).fetchone()
            if row is not None:
                job = job_from_row(row)
                return job, [JobChange(job.id, job.version, job.status, cancel_requested=True)]
            row = conn.execute(Q["get_job"], (job_id,)).fetchone()
            return (None if row is None else job_from_row(row)), []

        return await self._write(tx)

    async def delete_job(self, job_id: str) -> Job | None:
        def tx(conn: sqlite3.Connection) -> tuple[Job | None, Changes]:
            row = conn.execute(Q["get_job"], (job_id,)).fetchone()
            if row is None:
                return None, []
            job = job_from_row(row)
            if row[COL_STATUS] not in _TERMINAL_VALUES:
                return job, []
            conn.execute(Q["delete_terminal"], (row[COL_SEQ],))
            # No new version exists; the change still wakes local waiters to re-read (404).
            return job, [change_of(job)]

        return await self._write(tx)

    # -- maintenance --------------------------------------------------------------------
    async def sweep(self, params: SweepParams) -> Swept:
        now_us = to_us(params.now)
        keep_us = seconds_to_us(params.tombstone_seconds)
        limit = {"now": now_us, "limit": params.batch_size}

        def tx(conn: sqlite3.Connection) -> tuple[Swept, Changes]:
            rows = conn.execute(Q["sweep_jobs"], limit).fetchall()
            conn.executemany(
                Q["insert_tombstone"],
                [(job_id, owner, expired, expired + keep_us) for job_id, owner, expired, _ in rows],
            )
            conn.execute(Q["drop_tombstones"], limit)
            conn.execute(Q["clear_idempotency_keys"], limit)
            swept = Swept(
                job_ids=[r[0] for r in rows],
                result_refs=[result_ref_from_json(r[3]) for r in rows if r[3] is not None],
            )
            return swept, []

        return await self._write(tx)
