"""schema.sql of the PostgreSQL backend builds exactly the schema its migrations make:
tables, columns, constraints, indexes, functions, triggers, sequences, storage options."""

from __future__ import annotations

import asyncpg
import pytest
from tests.support.postgres import fresh_database
from tests.support.schema import postgres_catalog

from lro.store.postgres import migrate_connection
from lro.store.sql import read_schema

pytestmark = pytest.mark.postgres

REGENERATE = "schema.sql is stale: regenerate it with `python -m tests.support.schema postgres`"


async def test_schema_sql_is_what_the_migrations_make() -> None:
    async with (
        fresh_database(migrated=False) as migrated_url,
        fresh_database(migrated=False) as fresh_url,
    ):
        migrated = await asyncpg.connect(migrated_url)
        fresh = await asyncpg.connect(fresh_url)
        try:
            await migrate_connection(migrated)
            await fresh.execute(read_schema("lro.store.postgres"))
            want, have = await postgres_catalog(migrated), await postgres_catalog(fresh)
            for part in want:
                assert have[part] == want[part], f"{part}: {REGENERATE}"
        finally:
            await fresh.close()
            await migrated.close()


async def test_the_comparison_sees_a_changed_function() -> None:
    """A migration that redefines a trigger function without regenerating schema.sql must
    fail the test above."""
    async with fresh_database() as url:
        conn = await asyncpg.connect(url)
        try:
            before = await postgres_catalog(conn)
            await conn.execute(
                "CREATE OR REPLACE FUNCTION lro_outbox() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RETURN NULL; END $$"
            )
            assert (await postgres_catalog(conn))["functions"] != before["functions"]
        finally:
            await conn.close()
