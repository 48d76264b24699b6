"""Migrations on PostgreSQL: many processes starting at once, and a schema that is too new."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from tests.contract.helpers import complete_parent_releases, make_waiting_child
from tests.postgres.conftest import StoreMaker

from lro.errors import SchemaTooNew
from lro.store.postgres import LATEST_VERSION, MIGRATIONS, PostgresStore, schema, settle
from lro.store.sql import numbered

pytestmark = pytest.mark.postgres


async def test_concurrent_startups_migrate_once(empty_pg_url: str, make_store: StoreMaker) -> None:
    stores = [await make_store(empty_pg_url, open_=False) for _ in range(8)]
    await asyncio.gather(*(s.open() for s in stores))
    conn = await asyncpg.connect(empty_pg_url)
    try:
        rows = await conn.fetch("SELECT version, name FROM lro_schema_version ORDER BY version")
    finally:
        await conn.close()
    assert [(r[0], r[1]) for r in rows] == [(m.version, m.name) for m in MIGRATIONS]
    assert await asyncio.gather(*(s.migrate() for s in stores)) == [LATEST_VERSION] * 8


async def test_migrate_without_open(empty_pg_url: str) -> None:
    store = PostgresStore.from_url(empty_pg_url)
    assert await asyncio.gather(store.migrate(), store.migrate()) == [LATEST_VERSION] * 2
    await store.close()


async def test_schema_too_new_is_refused(pg_url: str, make_store: StoreMaker) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            "INSERT INTO lro_schema_version (version, name) VALUES ($1, 'future')",
            LATEST_VERSION + 1,
        )
    finally:
        await conn.close()
    store = await make_store(open_=False)
    with pytest.raises(SchemaTooNew):
        await store.open()
    with pytest.raises(SchemaTooNew):
        await store.migrate()


# lock_dependencies as it was before 0015 (no has_dependents column to set yet).
_LOCK_BEFORE_0015 = """
SELECT id, status, expires_at, finished_at FROM lro_jobs
WHERE id = ANY(:ids::text[])
ORDER BY id
FOR SHARE
"""


async def test_dependents_made_before_0015_are_still_released(
    empty_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0015 flags the jobs that already had dependents; without the backfill a waiting
    job made by an older lro would never be released by its dependency's completion."""
    assert MIGRATIONS[-1].name == "dependents"
    with monkeypatch.context() as old:
        old.setattr(schema, "MIGRATIONS", MIGRATIONS[:-1])
        old.setattr(schema, "LATEST_VERSION", LATEST_VERSION - 1)
        old.setitem(settle.Q, "lock_dependencies", numbered("lock", _LOCK_BEFORE_0015))
        store = PostgresStore.from_url(empty_pg_url)
        await store.open()
        child = await make_waiting_child(store)
        await store.close()
    store = PostgresStore.from_url(empty_pg_url)
    await store.open()
    try:
        assert await store.migrate() == LATEST_VERSION
        await complete_parent_releases(store, child)
    finally:
        await store.close()
