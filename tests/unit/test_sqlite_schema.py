"""schema.sql of the SQLite backend is exactly what its migrations make (and builds it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support.schema import (
    migrated_sqlite,
    normalise_sql,
    sqlite_normalised,
    sqlite_statements,
)

from lro.store.sql import read_schema

REGENERATE = "schema.sql is stale: regenerate it with `python -m tests.support.schema sqlite`"


def test_schema_sql_is_what_the_migrations_make(tmp_path: Path) -> None:
    migrated = migrated_sqlite(tmp_path / "lro.db")
    try:
        written = sorted(
            normalise_sql(s) for s in sqlite_statements(read_schema("lro.store.sqlite"))
        )
        assert sqlite_normalised(migrated) == written, REGENERATE
    finally:
        migrated.close()


def test_schema_sql_builds_the_migrated_database(tmp_path: Path) -> None:
    migrated = migrated_sqlite(tmp_path / "migrated.db")
    fresh = sqlite3.connect(tmp_path / "fresh.db")
    try:
        fresh.executescript(read_schema("lro.store.sqlite"))
        assert sqlite_normalised(fresh) == sqlite_normalised(migrated)
    finally:
        fresh.close()
        migrated.close()


def test_the_comparison_sees_a_changed_trigger(tmp_path: Path) -> None:
    """A migration that redefines a trigger without regenerating schema.sql must fail."""
    migrated = migrated_sqlite(tmp_path / "lro.db")
    try:
        before = sqlite_normalised(migrated)
        migrated.execute("DROP TRIGGER jobs_events_delete")
        migrated.execute(
            "CREATE TRIGGER jobs_events_delete AFTER DELETE ON jobs BEGIN SELECT 1; END"
        )
        assert sqlite_normalised(migrated) != before
    finally:
        migrated.close()
