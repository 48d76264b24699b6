"""Migrations on PostgreSQL: many processes starting at once, and a schema that is too new."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from tests.postgres.conftest import StoreMaker

from lro.errors import SchemaTooNew
from lro.store.postgres import LATEST_VERSION, MIGRATIONS, PostgresStore

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
