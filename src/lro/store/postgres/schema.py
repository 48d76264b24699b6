"""Migrating a PostgreSQL database: numbered files, a version table, an advisory lock.

Separate from the connection layer so `lro migrate` and tests can migrate a database on
a plain connection. The schema a fresh database ends with is schema.sql beside this
module (tests/postgres/test_schema.py holds them equal).
"""

from __future__ import annotations

from lro.errors import SchemaTooNew
from lro.store.postgres.rows import PACKAGE, Conn
from lro.store.sql import Migration, load_migrations

MIGRATIONS: list[Migration] = load_migrations(PACKAGE)
LATEST_VERSION = MIGRATIONS[-1].version

MIGRATION_LOCK_KEY = 0x6C726F5F6D6967  # "lro_mig": one advisory lock for every lro process


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
