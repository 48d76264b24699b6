"""PostgreSQL for tests: a fresh database per test, cloned from a migrated template.

The server comes from `LRO_TEST_POSTGRES_URL` (default: the local trust-auth server). Each
test gets its own `lro_test_<random>` database, dropped afterwards; it is cloned from one
template database migrated once per test run (`lro_tpl_<random>`, dropped at exit), which
is faster than migrating each one. When the server cannot be reached, tests fail in CI
(`CI=true`) and are skipped with a message on a developer machine.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from lro.store.postgres import migrate_connection

ADMIN_URL = os.environ.get("LRO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

_state: dict[str, str | None] = {"template": None, "unreachable": None}


def url_for(database: str, base: str = ADMIN_URL) -> str:
    """`base` with its database name replaced."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/" + database))


def _unreachable(reason: str) -> None:
    where = urlsplit(ADMIN_URL).netloc or ADMIN_URL
    message = (
        f"PostgreSQL not reachable on {where} ({reason}); start it or set "
        f"LRO_TEST_POSTGRES_URL to run the postgres tests"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def _admin() -> asyncpg.Connection:
    if _state["unreachable"] is not None:
        _unreachable(_state["unreachable"])
    try:
        return await asyncpg.connect(ADMIN_URL, timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        _state["unreachable"] = repr(exc)
        _unreachable(repr(exc))
        raise  # unreachable: pytest.skip/fail raise


async def _ensure_template(admin: asyncpg.Connection) -> str:
    name = _state["template"]
    if name is not None:
        return name
    name = f"lro_tpl_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    conn = await asyncpg.connect(url_for(name), timeout=5)
    try:
        await migrate_connection(conn)
    finally:
        await conn.close()
    _state["template"] = name
    atexit.register(_drop_template, name)
    return name


def _drop_template(name: str) -> None:
    async def drop() -> None:
        with contextlib.suppress(Exception):
            admin = await asyncpg.connect(ADMIN_URL, timeout=3)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

    with contextlib.suppress(Exception):
        asyncio.run(drop())


async def create_database(*, migrated: bool = True) -> str:
    """Create a uniquely named database and return its name: a clone of the migrated
    template, or (migrated=False) an empty one for migration tests."""
    admin = await _admin()
    try:
        template = await _ensure_template(admin) if migrated else "template0"
        name = f"lro_test_{uuid.uuid4().hex[:12]}"
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name
    finally:
        await admin.close()


async def drop_database(name: str) -> None:
    """Drop a test database, disconnecting whatever still holds it."""
    admin = await _admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def fresh_database(*, migrated: bool = True) -> AsyncIterator[str]:
    """A fresh database for one test, as a `postgresql://` URL; dropped afterwards."""
    name = await create_database(migrated=migrated)
    try:
        yield url_for(name)
    finally:
        await drop_database(name)


async def terminate_backends(url: str, *, application_name: str | None = None) -> int:
    """Kill the server processes connected to `url`'s database (as a server restart
    would), optionally only those with an `application_name` prefix; returns how many."""
    database = urlsplit(url).path.lstrip("/")
    admin = await _admin()
    try:
        killed: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()"
            " AND ($2::text IS NULL OR application_name LIKE $2::text || '%')",
            database,
            application_name,
        )
        return killed
    finally:
        await admin.close()
