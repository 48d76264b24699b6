"""The PostgreSQL backend: many API and worker processes on many machines share one queue.

Connections: an asyncpg pool (prepared statements cached per connection) for queries, plus
at most one dedicated LISTEN connection per store, opened while at least one listener is
registered. Every protocol method is one statement where it can be (batches pass one array
per column and `unnest` them; the event row is a CTE of the same statement), so a batch of
20 claims or completions costs one round trip. The SQL lives in sql/postgres/queries.sql.
The store's sessions run with bitmap scans off, so the claim walks its index in claim order
even when the queue table's statistics are stale (see `_settings`).

Change delivery: after a write commits, local listeners get a `JobChange` per changed job
at once. Other processes hear of it through NOTIFY: a statement trigger on `lro_events`
sends compact multi-job payloads on channel `lro_changes`, delivered at commit. Each pool
connection carries a per-store `lro.origin` setting that the trigger copies into the
payload, so the listener skips the changes this store already dispatched itself.

Outages: connection-level failures (refused, reset, terminated by the server, pool closed,
timeouts, too many connections) raise `StoreUnavailable`; the pool replaces broken
connections on the next acquire, so calls succeed again as soon as the server is back. The
LISTEN connection reconnects with backoff; changes committed while it was down are not
replayed (NOTIFY keeps no history), which is why every waiter also keeps a slow poll.

URL options, stripped before connecting: `pool_min` (default 1), `pool_max` (10),
`connect_timeout` (seconds, 5), `command_timeout` (seconds, 30), `statement_cache_size`
(asyncpg's, default 100; set 0 behind pgbouncer in transaction mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg

from lro.errors import SchemaTooNew, StoreUnavailable
from lro.models import (
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
    ResultRef,
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
from lro.store.migrate import Migration, load_migrations, load_queries
from lro.store.postgres_blobs import PostgresBlobs
from lro.store.postgres_handoff import PREFIX as HANDOFF_PREFIX
from lro.store.postgres_handoff import PostgresHandoffs
from lro.store.postgres_limits import PostgresLimits
from lro.store.postgres_outbox import PostgresOutbox
from lro.store.postgres_rows import (
    STATUS,
    Conn,
    Record,
    change_of,
    decode_cursor,
    dumps,
    encode_cursor,
    from_epoch,
    insert_args,
    insert_keyed,
    job_from_record,
    parse_changes,
    split_url,
)
from lro.tasks import cancel_and_wait

log = logging.getLogger(__name__)

T = TypeVar("T")

Q = load_queries("postgres")
MIGRATIONS: list[Migration] = load_migrations("postgres")
LATEST_VERSION = MIGRATIONS[-1].version

CHANNEL = "lro_changes"
MIGRATION_LOCK_KEY = 0x6C726F5F6D6967  # "lro_mig": one advisory lock for every lro process


# Errors that mean "the database cannot be used right now", as opposed to a bug in a
# statement. InterfaceError covers a closed pool and a connection closed under a query.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    # A connection the server closed while idle can fail its next statement with this
    # ("another operation is in progress") before asyncpg notices the close.
    asyncpg.InternalClientError,
)
# A transaction that lost one of these was rolled back whole, so running it again is safe.
_RETRYABLE: tuple[type[BaseException], ...] = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


async def migrate_connection(conn: Conn) -> int:
    """Apply pending migrations in one transaction and return the schema version.

    The transaction-scoped advisory lock makes processes that start together take turns:
    the first applies, the others wait for its commit and then find nothing pending.
    Raises SchemaTooNew (touching nothing) when a newer lro migrated this database.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS lro_schema_version ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current: int = await conn.fetchval(
            "SELECT coalesce(max(version), 0) FROM lro_schema_version"
        )
        if current > LATEST_VERSION:
            raise SchemaTooNew(
                f"the database schema is at version {current}, but this lro only knows up "
                f"to {LATEST_VERSION}; upgrade lro (or point it at another database)"
            )
        for migration in MIGRATIONS[current:]:
            await conn.execute(migration.sql)  # no arguments: simple protocol, many statements
            await conn.execute(
                "INSERT INTO lro_schema_version (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
    return max(current, LATEST_VERSION)


def _pool_full(pool: Any) -> bool:
    return bool(pool.get_size() >= pool.get_max_size() and pool.get_idle_size() == 0)


async def _reset_connection(conn: Conn) -> None:
    """Pool release hook. asyncpg's default runs RESET ALL, UNLISTEN *, CLOSE ALL and
    pg_advisory_unlock_all: one more round trip per call. Pooled connections keep no
    session state here (the only LISTEN is on a dedicated connection, the migration lock
    is transaction-scoped; asyncpg itself rolls back any open transaction), so skip it."""


class PostgresStore:
    """The Store protocol on PostgreSQL (see the module docstring for the design)."""

    supports_listen = True
    embedded = False

    def __init__(
        self,
        dsn: str,
        *,
        pool_min: int = 1,
        pool_max: int = 10,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
        listen_keepalive: float = 10.0,
    ) -> None:
        self.dsn = dsn
        self.pool_min = pool_min
        self.pool_max = max(pool_max, pool_min)
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.listen_keepalive = listen_keepalive
        self.origin = uuid.uuid4().hex
        self._pool: Any = None
        self._closed = False
        self._listeners: list[Listener] = []
        self._listen_task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        """Set while the LISTEN connection is up: a signal tests (and /readyz) can await."""
        self.outbox = PostgresOutbox(self)
        self.limits = PostgresLimits(self)
        self.blobs = PostgresBlobs(self)
        self.handoffs: PostgresHandoffs | None = PostgresHandoffs(self, Q)
        """None turns hand-offs off (tests of the claim path; see postgres_handoff)."""

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """`postgresql://user@host:port/db?pool_max=20` (see the module docstring)."""
        dsn, opts = split_url(url)
        kwargs: dict[str, Any] = {}
        for key in ("pool_min", "pool_max"):
            if key in opts:
                kwargs[key] = int(opts[key])
        for key in ("connect_timeout", "command_timeout"):
            if key in opts:
                kwargs[key] = opts[key]
        return cls(dsn, **kwargs)

    def _settings(self, role: str) -> dict[str, str]:
        return {
            "application_name": f"lro-{role}",
            "lro.origin": self.origin,
            # Why: every lro statement is an ordered walk of an index (the claim, the
            # sweeper, list pages) or a lookup by key, and a queue table's statistics are
            # nearly always stale (a burst of submits lands between two autovacuum
            # analyzes, so the planner expects a handful of queued rows). With bitmap scans
            # allowed that misestimate turns the claim into "fetch every queued row, sort,
            # take 20": 10-15 ms per claim at 10,000 queued jobs, growing with the queue.
            # Without them the claim walks lro_jobs_claim and stops after LIMIT rows
            # (0.05 ms) whatever the statistics say. Only this store's own sessions.
            "enable_bitmapscan": "off",
        }

    # -- lifecycle ----------------------------------------------------------------------
    async def open(self) -> None:
        if self._closed:
            raise StoreUnavailable("this store was closed; create a new one")
        if self._pool is not None:
            return
        try:
            pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.pool_min,
                max_size=self.pool_max,
                timeout=self.connect_timeout,
                command_timeout=self.command_timeout,
                server_settings=self._settings("pool"),
                reset=_reset_connection,
            )
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot reach PostgreSQL: {exc}") from exc
        try:
            async with pool.acquire() as conn:
                await migrate_connection(conn)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, _UNAVAILABLE):
                raise StoreUnavailable(f"cannot migrate PostgreSQL: {exc}") from exc
            raise
        self._pool = pool
        self._ensure_listening()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._stop_listening()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self.connect_timeout)
            except _UNAVAILABLE:  # includes TimeoutError
                pool.terminate()

    async def migrate(self) -> int:
        if self._pool is not None:
            return await self._with_conn(migrate_connection)
        try:
            conn = await asyncpg.connect(
                self.dsn, timeout=self.connect_timeout, server_settings=self._settings("migrate")
            )
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot reach PostgreSQL: {exc}") from exc
        try:
            return await migrate_connection(conn)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot migrate PostgreSQL: {exc}") from exc
        finally:
            with contextlib.suppress(*_UNAVAILABLE):
                await conn.close(timeout=self.connect_timeout)

    async def ping(self) -> None:
        await self._with_conn(
            lambda c: c.fetchval("SELECT 1", timeout=self.connect_timeout), read=True
        )

    # -- plumbing -----------------------------------------------------------------------
    async def _with_conn(self, fn: Callable[[Conn], Awaitable[T]], *, read: bool = False) -> T:
        """Run `fn` on a pooled connection; map connection-level failures.

        A failure drops that connection and expires the rest of the pool: it usually means
        the server restarted, and then every idle connection is dead, so each is replaced
        on its next acquire instead of failing one more call. Reads (`read=True`) are
        retried once on a fresh connection; writes are not, since a lost COMMIT
        acknowledgement leaves their outcome unknown.
        """
        for attempt in (1, 2):
            pool = self._pool
            if pool is None:
                raise StoreUnavailable("the PostgreSQL store is not open")
            try:
                async with pool.acquire(timeout=self.connect_timeout) as conn:
                    try:
                        return await fn(conn)
                    except _UNAVAILABLE:
                        conn.terminate()
                        raise
            except _UNAVAILABLE as exc:
                if isinstance(exc, TimeoutError) and _pool_full(pool):
                    # Every connection is in use: the server is fine, this process is busy.
                    # Expiring the pool here would turn a burst into a reconnect storm.
                    raise StoreUnavailable(
                        f"all {pool.get_max_size()} PostgreSQL connections are busy"
                    ) from exc
                with contextlib.suppress(Exception):
                    await pool.expire_connections()
                if not read or attempt == 2:
                    raise StoreUnavailable(f"PostgreSQL unavailable: {exc!r}") from exc
        raise AssertionError("unreachable")

    async def _tx(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `fn` in one transaction, again (up to twice) if it lost a deadlock."""

        async def run(conn: Conn) -> T:
            for attempt in range(3):
                try:
                    async with conn.transaction():
                        return await fn(conn)
                except _RETRYABLE:
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        return await self._with_conn(run)

    async def _fetch(self, query: str, *args: Any, read: bool = False) -> list[Record]:
        return await self._with_conn(lambda c: c.fetch(query, *args), read=read)

    async def _read(self, query: str, *args: Any) -> list[Record]:
        return await self._fetch(query, *args, read=True)

    async def _fetch_retrying(self, query: str, *args: Any) -> list[Record]:
        """A single-statement write: atomic on its own, retried if it lost a deadlock."""
        for attempt in range(3):
            try:
                return await self._fetch(query, *args)
            except _RETRYABLE:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # -- listeners ----------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        self._ensure_listening()

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)
            if not self._listeners and self._listen_task is not None:
                self._listen_task.cancel()
                self._listen_task = None
                self.listening.clear()

        return remove

    def _notify(self, changes: Sequence[JobChange]) -> None:
        dispatch(self._listeners, changes)

    def _ensure_listening(self) -> None:
        if self._listen_task is not None or not self._listeners:
            return
        if self._pool is None or self._closed:
            return  # open() starts it
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # registered outside the loop: open() starts it
        self._listen_task = loop.create_task(self._listen(), name="lro-postgres-listen")

    async def _stop_listening(self) -> None:
        task, self._listen_task = self._listen_task, None
        await cancel_and_wait([task])
        self.listening.clear()

    def _on_notification(self, _conn: Conn, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith(HANDOFF_PREFIX):
            assert self.handoffs is not None
            self.handoffs.deliver(payload)
            return
        try:
            origin, changes = parse_changes(payload)
        except (ValueError, KeyError):
            log.warning("ignoring malformed %s payload %r", CHANNEL, payload[:200])
            return
        if origin != self.origin:
            if len(changes) > 1:
                # Only each job's newest state: a job handed off at submit arrives as
                # queued then processing, and idle workers must not wake to claim it.
                changes = list({c.job_id: c for c in changes}.values())
            self._notify(changes)

    async def _listen(self) -> None:
        """Hold one LISTEN connection; on loss, reconnect with backoff (0.05 s .. 2 s).

        Nothing is replayed after a reconnect: NOTIFY has no history, and inventing
        changes would be wrong. Waiters keep a slow poll for exactly this gap.
        """
        delay = 0.05
        sessions = 0
        while True:
            conn: Conn = None
            try:
                conn = await asyncpg.connect(
                    self.dsn,
                    timeout=self.connect_timeout,
                    server_settings=self._settings("listen"),
                )
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notification)
                await self._hold_handoff_lock(conn, reconnected=sessions > 0)
                sessions += 1
                self.listening.set()
                delay = 0.05
                while not conn.is_closed():
                    try:
                        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the
                        # cancellation that closes the store, and this loop would not stop.
                        async with asyncio.timeout(self.listen_keepalive):
                            await lost.wait()
                    except TimeoutError:
                        # A half-open TCP connection never reports its loss: probe it.
                        await conn.execute("SELECT 1", timeout=self.connect_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN connection lost, reconnecting in %.2fs: %r", delay, exc)
            finally:
                self.listening.clear()
                if self.handoffs is not None:
                    self.handoffs.session_lost()
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _hold_handoff_lock(self, conn: Conn, *, reconnected: bool) -> None:
        """Take this session's liveness lock for hand-offs (postgres_handoff): held for as
        long as the session lives, released by the server when it dies."""
        if self.handoffs is None:
            return
        cls = self.handoffs.lock_class
        while True:
            key = self.handoffs.new_key()
            if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", cls, key):
                break
        self.handoffs.session_started(key, reconnected=reconnected)

    # -- submit -------------------------------------------------------------------------
    async def insert_jobs(self, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        if not jobs:
            return []
        if all(j.idempotency_key is None for j in jobs):
            rows = await self._fetch_retrying(Q["insert_jobs"], *insert_args(jobs, now))
            out = [Inserted(job_from_record(r), created=True) for r in rows]
        else:
            out = await self._tx(lambda conn: insert_keyed(conn, Q, jobs, now))
        self._notify([change_of(i.job) for i in out if i.created])
        return out

    # -- read ---------------------------------------------------------------------------
    async def get_job(self, job_id: str) -> Job | None:
        rows = await self._read(Q["get_job"], job_id)
        return job_from_record(rows[0]) if rows else None

    async def get_tombstone(self, job_id: str, now: datetime) -> Tombstone | None:
        rows = await self._read(Q["get_tombstone"], job_id, now)
        return Tombstone(rows[0][0], rows[0][1], rows[0][2]) if rows else None

    async def list_jobs(self, query: ListQuery, now: datetime) -> Page:
        if query.limit < 1:
            raise ValueError("limit must be at least 1")
        after: tuple[datetime | None, str] = (
            (None, "") if query.cursor is None else decode_cursor(query.cursor)
        )
        statuses = [Status(s).value for s in query.statuses] if query.statuses else None
        rows = await self._read(
            Q["list_jobs" if query.owner is not None else "list_all_jobs"],
            query.owner,
            after[0],
            after[1],
            now,
            query.operation,
            statuses,
            query.limit + 1,
        )
        items = [job_from_record(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return Page(items, encode_cursor(items[-1]) if more and items else None)

    async def job_with_events(
        self, job_id: str, after_version: int
    ) -> tuple[Job | None, list[JobEvent]]:
        rows = await self._read(Q["job_with_events"], job_id, after_version)
        if not rows:
            return None, []
        events = [
            JobEvent(job_id, v, kind, STATUS[s], pct, step, attempt, from_epoch(at))
            for v, kind, s, pct, step, attempt, at in json.loads(rows[0]["new_events"])
        ]
        return job_from_record(rows[0]), events

    async def events_after(self, job_id: str, after_version: int) -> list[JobEvent]:
        rows = await self._read(Q["events_after"], job_id, after_version)
        return [JobEvent(r[0], r[1], r[2], STATUS[r[3]], r[4], r[5], r[6], r[7]) for r in rows]

    async def recent_durations(self, operation: str, limit: int = 20) -> list[float]:
        rows = await self._read(Q["recent_durations"], operation, limit)
        return [float(r[0]) for r in rows]

    async def job_counts(self, owner: str | None, now: datetime) -> list[JobCount]:
        if owner is None:
            rows = await self._read(Q["job_counts_all"], now)
        else:
            rows = await self._read(Q["job_counts"], owner, now)
        return [JobCount(r[0], STATUS[r[1]], r[2]) for r in rows]

    async def oldest_queued(self, now: datetime) -> dict[str, datetime]:
        return {r[0]: r[1] for r in await self._read(Q["oldest_queued"], now)}

    # -- worker -------------------------------------------------------------------------
    async def claim_jobs(self, params: ClaimParams) -> list[Job]:
        return await self.claim(params)

    async def claim(self, params: ClaimParams, *, park_key: int | None = None) -> list[Job]:
        """claim_jobs; with `park_key` (postgres_handoff), a claim that comes back short
        also parks the worker for a hand-off, in the same statement."""
        if params.limit < 1:
            return []
        args: tuple[Any, ...] = (
            params.now,
            params.now + timedelta(seconds=params.lease_seconds),
            params.worker_id,
            None if params.operations is None else list(params.operations),
            params.limit,
        )
        if park_key is None:
            rows = await self._fetch_retrying(Q["claim_jobs"], *args)
        else:
            rows = await self._fetch_retrying(
                Q["claim_or_park"], *args, park_key, params.lease_seconds
            )
        jobs = [job_from_record(r) for r in rows]
        self._notify([change_of(j) for j in jobs])
        return jobs

    async def heartbeat(
        self, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> list[HeartbeatResult]:
        if not leases:
            return []
        rows = await self._fetch_retrying(
            Q["heartbeat"],
            [le.job_id for le in leases],
            [le.token for le in leases],
            now + timedelta(seconds=lease_seconds),
        )
        held = {(r[0], r[1]): bool(r[2]) for r in rows}
        return [
            HeartbeatResult(
                le.job_id, (le.job_id, le.token) in held, held.get((le.job_id, le.token), False)
            )
            for le in leases
        ]

    async def set_progress(self, updates: Sequence[ProgressUpdate], now: datetime) -> list[bool]:
        if not updates:
            return []
        # One row per job, so one statement never updates a row twice; repeated updates
        # of a job in one batch merge into the highest progress and the last step given.
        merged: dict[tuple[str, str], tuple[float, str | None]] = {}
        for u in updates:
            key = (u.lease.job_id, u.lease.token)
            pct, step = merged.get(key, (float("-inf"), None))
            merged[key] = (max(pct, float(u.progress_pct)), u.step if u.step is not None else step)
        rows = await self._fetch_retrying(
            Q["set_progress"],
            [k[0] for k in merged],
            [k[1] for k in merged],
            [v[0] for v in merged.values()],
            [v[1] for v in merged.values()],
            now,
        )
        held = {(r[0], r[1]) for r in rows}
        self._notify([JobChange(r[0], r[2], STATUS[r[3]]) for r in rows if r[2] is not None])
        return [(u.lease.job_id, u.lease.token) in held for u in updates]

    def _by_lease(self, leases: Sequence[Lease], rows: list[Record]) -> list[Job | None]:
        """Order fenced results like `leases`; a row answers the lease whose token matched
        (the rows of the batch queries carry it as `fenced_by`, single-row ones match)."""
        jobs: dict[tuple[str, str], Job] = {}
        for r in rows:
            job = job_from_record(r)
            token = r.get("fenced_by", leases[0].token)
            jobs[(job.id, token)] = job
        self._notify([change_of(j) for j in jobs.values()])
        return [jobs.get((le.job_id, le.token)) for le in leases]

    async def complete_jobs(
        self, completions: Sequence[Completion], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        if not completions:
            return []
        rows = await self._fetch_retrying(
            Q["complete_jobs"],
            [c.lease.job_id for c in completions],
            [c.lease.token for c in completions],
            [None if c.result is None else dumps(c.result) for c in completions],
            [None if c.result_ref is None else dumps(c.result_ref.to_json()) for c in completions],
            now,
            now + timedelta(seconds=retention_seconds),
            [c.step for c in completions],
        )
        return self._by_lease([c.lease for c in completions], rows)

    async def fail_job(
        self, failure: Failure, now: datetime, retention_seconds: float
    ) -> Job | None:
        lease = failure.lease
        if failure.retry_at is not None:
            rows = await self._fetch(
                Q["retry_job"], lease.job_id, lease.token, now, failure.retry_at
            )
        else:
            rows = await self._fetch(
                Q["fail_job"],
                lease.job_id,
                lease.token,
                now,
                dumps(failure.error.to_json()),
                now + timedelta(seconds=retention_seconds),
            )
        return self._by_lease([lease], rows)[0]

    async def cancel_running(
        self, lease: Lease, now: datetime, retention_seconds: float
    ) -> Job | None:
        rows = await self._fetch(
            Q["cancel_running"],
            lease.job_id,
            lease.token,
            now,
            now + timedelta(seconds=retention_seconds),
        )
        return self._by_lease([lease], rows)[0]

    async def release_jobs(self, leases: Sequence[Lease], now: datetime) -> list[Job | None]:
        if not leases:
            return []
        rows = await self._fetch_retrying(
            Q["release_jobs"], [le.job_id for le in leases], [le.token for le in leases], now
        )
        return self._by_lease(leases, rows)

    async def rescue_expired(self, params: RescueParams) -> list[Job]:
        now = params.now

        async def tx(conn: Conn) -> list[Record]:
            found = await conn.fetch(Q["expired_leases"], now, params.limit)
            if not found:
                return []
            statuses: list[str] = []
            errors: list[str | None] = []
            for _seq, attempt, max_attempts, cancel_requested in found:
                if cancel_requested:
                    statuses.append(Status.CANCELLED.value)
                    errors.append(None)
                elif attempt >= max_attempts:
                    statuses.append(Status.FAILED.value)
                    errors.append(dumps(worker_lost_error(attempt).to_json()))
                else:
                    statuses.append(Status.QUEUED.value)
                    errors.append(None)
            return list(
                await conn.fetch(
                    Q["rescue"],
                    [r[0] for r in found],
                    statuses,
                    errors,
                    now,
                    now + timedelta(seconds=params.retry_delay_seconds),
                    now + timedelta(seconds=params.retention_seconds),
                )
            )

        jobs = [job_from_record(r) for r in await self._tx(tx)]
        self._notify([change_of(j) for j in jobs])
        return jobs

    # -- client actions -------------------------------------------------------------------
    async def request_cancel(
        self, job_id: str, now: datetime, retention_seconds: float
    ) -> Job | None:
        expires = now + timedelta(seconds=retention_seconds)

        # Two statements, each with its own snapshot: if a claim commits between them, the
        # first finds the job no longer queued and the second sees it processing.
        async def tx(conn: Conn) -> tuple[Job | None, JobChange | None]:
            rows = await conn.fetch(Q["cancel_queued"], job_id, now, expires)
            if rows:
                job = job_from_record(rows[0])
                return job, change_of(job)
            rows = await conn.fetch(Q["request_cancel_running"], job_id, now)
            if rows:
                job = job_from_record(rows[0])
                return job, change_of(job, cancel_requested=True)
            rows = await conn.fetch(Q["get_job"], job_id)
            return (job_from_record(rows[0]) if rows else None), None

        job, change = await self._tx(tx)
        if change is not None:
            self._notify([change])
        return job

    async def delete_job(self, job_id: str) -> Job | None:
        rows = await self._fetch(Q["delete_terminal"], job_id)
        if rows:
            job = job_from_record(rows[0])
            # No new version exists; the change still wakes local waiters to re-read (404).
            self._notify([change_of(job)])
            return job
        return await self.get_job(job_id)

    # -- maintenance --------------------------------------------------------------------
    async def sweep(self, params: SweepParams) -> Swept:
        rows = await self._fetch_retrying(
            Q["sweep"], params.now, params.batch_size, float(params.tombstone_seconds)
        )
        return Swept(
            job_ids=[r[0] for r in rows],
            result_refs=[ResultRef.from_json(json.loads(r[1])) for r in rows if r[1] is not None],
        )
