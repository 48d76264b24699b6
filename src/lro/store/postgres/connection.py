"""The PostgreSQL connection layer: the pool, transactions, retries and error mapping.
Every part of the backend (jobs, outbox, quotas, blobs, hand-off) talks to the server
through `Database`, and nothing else touches the pool.

Connections: an asyncpg pool (prepared statements cached per connection) for queries;
dedicated connections for the LISTEN session (`listen.py`) and for migrating without a
pool. The parts run named queries (`lro.store.sql.Query`, parameters by keyword):
`read` for reads (retried once on a fresh connection), `fetch_retrying` for a
single-statement write (atomic on its own, run again if it lost a deadlock), `fetch` for
a write that must not be repeated, `tx(fn)` for several statements in one transaction,
and `run(conn, query, ...)` inside it.

Outages: connection-level failures (refused, reset, terminated by the server, pool closed,
timeouts, too many connections) raise `StoreUnavailable`; the pool replaces broken
connections on the next acquire, so calls succeed again as soon as the server is back.

URL options, stripped before connecting: `pool_min` (default 1), `pool_max` (10),
`connect_timeout` (seconds, 5), `command_timeout` (seconds, 30).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from lro.errors import StoreUnavailable
from lro.models import CLOCK_TOLERANCE, clock_correction, correct_clock
from lro.store.changes import Listeners
from lro.store.postgres.rows import Conn, Record
from lro.store.postgres.schema import migrate_connection
from lro.store.sql import Query
from lro.store.types import JobChange

T = TypeVar("T")

log = logging.getLogger("lro.store.postgres")

URL_OPTIONS = ("pool_min", "pool_max", "connect_timeout", "command_timeout")

# Errors that mean "the database cannot be used right now", as opposed to a bug in a
# statement. InterfaceError covers a closed pool and a connection closed under a query.
UNAVAILABLE: tuple[type[BaseException], ...] = (
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
    # Refused at connect: the database does not allow connections now (55000, as with
    # ALLOW_CONNECTIONS false during maintenance), the role or its password is refused
    # (28000, 28P01), or the database is gone (3D000). None is a bug in a statement; each
    # clears up (or not) outside the process, which should say 503 and retry meanwhile.
    asyncpg.ObjectNotInPrerequisiteStateError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
)
# A transaction that lost one of these was rolled back whole, so running it again is safe.
RETRYABLE: tuple[type[BaseException], ...] = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


async def sync_clock(conn: Conn) -> timedelta:
    """Make this process keep the server's time (lro.models.correct_clock): its clock is
    the one every process of a deployment shares, so leases and expiry mean one time
    whatever each machine's own clock says. One round trip, taken at its midpoint; a gap
    smaller than the trip's uncertainty plus the tolerance is left alone."""
    before = datetime.now(UTC)
    server: datetime = await conn.fetchval("SELECT clock_timestamp()")
    after = datetime.now(UTC)
    half_trip = (after - before) / 2
    gap = server - (before + half_trip)
    shown = abs(gap) - half_trip
    previous = clock_correction()
    applied = correct_clock(gap if shown >= CLOCK_TOLERANCE else timedelta(0))
    if applied != previous and abs(applied - previous) >= CLOCK_TOLERANCE:
        log.warning(
            "this process's clock is %.3f s %s PostgreSQL's: keeping the database's time",
            abs(gap.total_seconds()),
            "behind" if gap > timedelta(0) else "ahead of",
        )
    return applied


def split_url(url: str) -> tuple[str, dict[str, float]]:
    """Strip lro's own options from the URL's query; asyncpg gets the rest."""
    parts = urlsplit(url)
    ours: dict[str, float] = {}
    rest = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in URL_OPTIONS:
            try:
                ours[key] = float(value)
            except ValueError:
                raise ValueError(f"store URL option {key}={value!r} is not a number") from None
        else:
            rest.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(rest))), ours


async def run(conn: Conn, query: Query, /, **params: Any) -> list[Record]:
    """Run a named query on `conn` (inside `Database.tx`)."""
    rows: list[Record] = await conn.fetch(query.sql, *query.args(**params))
    return rows


def _pool_full(pool: Any) -> bool:
    return bool(pool.get_size() >= pool.get_max_size() and pool.get_idle_size() == 0)


async def _reset_connection(conn: Conn) -> None:
    """Pool release hook. asyncpg's default runs RESET ALL, UNLISTEN *, CLOSE ALL and
    pg_advisory_unlock_all: one more round trip per call. Pooled connections keep no
    session state here (the only LISTEN is on a dedicated connection, the migration lock
    is transaction-scoped; asyncpg itself rolls back any open transaction), so skip it."""


class Database:
    """The pool of one store, its calls, and the store's in-process listeners."""

    def __init__(
        self,
        dsn: str,
        *,
        pool_min: int = 1,
        pool_max: int = 10,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
    ) -> None:
        self.dsn = dsn
        self.pool_min = pool_min
        self.pool_max = max(pool_max, pool_min)
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.origin = uuid.uuid4().hex
        """Tags this store's sessions (`lro.origin`), so its LISTEN session can skip the
        changes it has already dispatched itself."""
        self.listeners = Listeners()
        self._pool: Any = None
        self.closed = False

    @property
    def is_open(self) -> bool:
        return self._pool is not None and not self.closed

    def settings(self, role: str) -> dict[str, str]:
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
        """Create the pool and migrate (on one of its connections)."""
        if self.closed:
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
                server_settings=self.settings("pool"),
                reset=_reset_connection,
            )
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot reach PostgreSQL: {exc}") from exc
        try:
            async with pool.acquire() as conn:
                await migrate_connection(conn)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, UNAVAILABLE):
                raise StoreUnavailable(f"cannot migrate PostgreSQL: {exc}") from exc
            raise
        self._pool = pool
        try:
            async with pool.acquire() as conn:
                await sync_clock(conn)
        except UNAVAILABLE as exc:  # the next keepalive of the LISTEN session tries again
            log.warning("could not read PostgreSQL's clock: %s", exc)

    async def close(self) -> None:
        self.closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self.connect_timeout)
            except UNAVAILABLE:  # includes TimeoutError
                pool.terminate()

    async def connect(self, role: str) -> Conn:
        """A dedicated connection outside the pool (the caller closes it)."""
        return await asyncpg.connect(
            self.dsn, timeout=self.connect_timeout, server_settings=self.settings(role)
        )

    async def migrate(self) -> int:
        if self._pool is not None:
            return await self.with_conn(migrate_connection)
        try:
            conn = await self.connect("migrate")
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot reach PostgreSQL: {exc}") from exc
        try:
            return await migrate_connection(conn)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot migrate PostgreSQL: {exc}") from exc
        finally:
            with contextlib.suppress(*UNAVAILABLE):
                await conn.close(timeout=self.connect_timeout)

    async def ping(self) -> None:
        await self.with_conn(
            lambda c: c.fetchval("SELECT 1", timeout=self.connect_timeout), read=True
        )

    # -- calls ----------------------------------------------------------------------------
    async def with_conn(self, fn: Callable[[Conn], Awaitable[T]], *, read: bool = False) -> T:
        """Run `fn` on a pooled connection; map connection-level failures.

        A failure of `fn` drops that connection and expires the rest of the pool: it
        usually means the server restarted, and then every idle connection is dead, so
        each is replaced on its next acquire instead of failing one more call. Reads
        (`read=True`) are retried once on a fresh connection; writes are not, since a
        lost COMMIT acknowledgement leaves their outcome unknown.

        An acquire that times out expires nothing and is not retried: either every
        connection is in use (this process is busy, the server is fine) or opening a new
        one took longer than `connect_timeout`. Expiring healthy busy connections would
        turn a burst into a reconnect storm (each new session a TCP and TLS-probe
        handshake, while the burst waits for them), and waiting a second time would only
        double the caller's wait; a dead idle connection shows as a failure of `fn`.
        """
        for attempt in (1, 2):
            pool = self._pool
            if pool is None:
                raise StoreUnavailable("the PostgreSQL store is not open")
            # With a connection idle the acquire cannot wait, so it goes without the
            # timeout: asyncpg runs an acquire that has one as a task of its own, 6% of a
            # submit's Python time in the profile (docs/benchmarks.md). Connecting a
            # fresh one is bounded by the pool's own connect timeout either way.
            timeout = None if pool.get_idle_size() else self.connect_timeout
            acquired = False
            try:
                async with pool.acquire(timeout=timeout) as conn:
                    acquired = True
                    try:
                        return await fn(conn)
                    except UNAVAILABLE:
                        conn.terminate()
                        raise
            except UNAVAILABLE as exc:
                if not acquired and isinstance(exc, TimeoutError):
                    if _pool_full(pool):
                        raise StoreUnavailable(
                            f"all {pool.get_max_size()} PostgreSQL connections are busy"
                        ) from exc
                    raise StoreUnavailable(
                        f"no PostgreSQL connection within {self.connect_timeout:g} s"
                    ) from exc
                with contextlib.suppress(Exception):
                    await pool.expire_connections()
                if not read or attempt == 2:
                    raise StoreUnavailable(f"PostgreSQL unavailable: {exc!r}") from exc
        raise AssertionError("unreachable")

    async def tx(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `fn` in one transaction, again (up to twice) if it lost a deadlock."""

        async def attempt(conn: Conn) -> T:
            for n in range(3):
                try:
                    async with conn.transaction():
                        return await fn(conn)
                except RETRYABLE:
                    if n == 2:
                        raise
            raise AssertionError("unreachable")

        return await self.with_conn(attempt)

    async def fetch(self, query: Query, /, **params: Any) -> list[Record]:
        """One statement, not repeated: a write whose outcome must not be doubled."""
        args = query.args(**params)
        return await self.with_conn(lambda c: c.fetch(query.sql, *args))

    async def read(self, query: Query, /, **params: Any) -> list[Record]:
        """A read: retried once on a fresh connection if the first one was dead."""
        args = query.args(**params)
        return await self.with_conn(lambda c: c.fetch(query.sql, *args), read=True)

    async def fetch_retrying(self, query: Query, /, **params: Any) -> list[Record]:
        """A single-statement write: atomic on its own, run again if it lost a deadlock."""
        args = query.args(**params)
        for attempt in range(3):
            try:
                return await self.with_conn(lambda c: c.fetch(query.sql, *args))
            except RETRYABLE:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def fetch_sql(self, sql: str, *args: Any) -> list[Record]:
        """Ad-hoc SQL with `$n` arguments (tests and tools; the parts use named queries)."""
        return await self.with_conn(lambda c: c.fetch(sql, *args))

    def notify(self, changes: Sequence[JobChange]) -> None:
        """Tell this process's listeners about changes this store committed."""
        self.listeners.dispatch(changes)
