"""Opening SQLite connections and migrating the schema (numbered files, version table).

Separate from the connection layer so `lro migrate` and tests can migrate a file without
starting the store's threads. The schema a fresh file ends with is schema.sql beside
this module (tests/unit/test_sqlite_schema.py holds them equal).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time

from lro.errors import SchemaTooNew
from lro.store.sql import Migration, load_migrations

MIGRATIONS: list[Migration] = load_migrations("lro.store.sqlite")
LATEST_VERSION = MIGRATIONS[-1].version

# Primary result codes that mean "the database cannot be used right now", as opposed to
# a bug in a statement: busy/locked, read-only, I/O error, disk full, cannot open, protocol.
_UNAVAILABLE_CODES = frozenset({5, 6, 8, 10, 13, 14, 15})


SQLITE_FULL = 13


def is_disk_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) == SQLITE_FULL


def is_unavailable(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and (
        code is None or (code & 0xFF) in _UNAVAILABLE_CODES
    )


def split_statements(script: str) -> list[str]:
    """Split a migration script at top-level semicolons.

    `executescript` would COMMIT the surrounding transaction first, so migrations run one
    statement at a time inside their lock; `sqlite3.complete_statement` knows that the
    semicolons inside a `CREATE TRIGGER ... END;` body do not end the statement.
    """
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if any(ln.strip() and not ln.strip().startswith("--") for ln in buffer.splitlines()):
        raise ValueError(f"migration ends with an incomplete statement: {buffer.strip()!r}")
    return statements


def connect(
    path: str, *, readonly: bool = False, busy_timeout_ms: int = 5000
) -> sqlite3.Connection:
    """A connection in autocommit mode (we write BEGIN/COMMIT ourselves), WAL journal,
    rows readable by column name (`sqlite3.Row`)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if not readonly:
            # Switching a fresh file to WAL needs an exclusive lock that another process
            # starting at the same moment may hold for an instant: retry briefly.
            for attempt in range(50):
                try:
                    conn.execute("PRAGMA journal_mode = WAL").fetchall()
                    break
                except sqlite3.OperationalError as exc:
                    if not is_unavailable(exc) or attempt == 49:
                        raise
                    time.sleep(0.02)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        # A dependency's failure fails its dependents, whose endings fail theirs: the
        # release trigger of migration 0010 fires for the rows it changes itself.
        conn.execute("PRAGMA recursive_triggers = ON")
        conn.execute("PRAGMA cache_size = -32768")  # KiB: hot indexes stay in memory
        if readonly:
            conn.execute("PRAGMA query_only = 1")
    except BaseException:
        conn.close()
        raise
    return conn


def migrate_connection(conn: sqlite3.Connection) -> int:
    """Apply pending migrations under one write lock and return the schema version.

    `BEGIN IMMEDIATE` makes processes that start together take turns: the first applies,
    the others then find nothing pending. Raises SchemaTooNew (touching nothing) when the
    file was migrated by a newer lro.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        (current,) = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        if current > LATEST_VERSION:
            raise SchemaTooNew(
                f"the database schema is at version {current}, but this lro only knows up "
                f"to {LATEST_VERSION}; upgrade lro (or point it at another database)"
            )
        for migration in MIGRATIONS[current:]:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at)"
                " VALUES (:version, :name, :at)",
                {"version": migration.version, "name": migration.name, "at": time.time()},
            )
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return max(int(current), LATEST_VERSION)
