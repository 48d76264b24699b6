"""Each backend's schema.sql: written by dumping a freshly migrated database, and compared
with one in tests (tests/unit/test_sqlite_schema.py, tests/postgres/test_schema.py).

Regenerate after adding a migration (from the repository root):

    .venv/bin/python -m tests.support.schema sqlite
    .venv/bin/python -m tests.support.schema postgres   # needs pg_dump and the test server
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SQLITE_SCHEMA = ROOT / "src/lro/store/sqlite/schema.sql"
POSTGRES_SCHEMA = ROOT / "src/lro/store/postgres/schema.sql"

_COMMENT_OR_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*")
_PUNCTUATION = re.compile(r"\s*([(),;])\s*")

SQLITE_HEADER = """\
-- The schema of a freshly migrated SQLite database: every table, index and trigger, as
-- the migrations in migrations/ leave them. The one place to read the final triggers
-- (the event log and the webhook outbox are written by them; lro.store.base says what
-- each verb writes). Generated: python -m tests.support.schema sqlite; held equal to the
-- migrations by tests/unit/test_sqlite_schema.py. Edit a migration, then regenerate.
"""

POSTGRES_HEADER = """\
-- The schema of a freshly migrated PostgreSQL database: every table, constraint, index,
-- function and trigger, as the migrations in migrations/ leave them (pg_dump
-- --schema-only). The one place to read the final triggers (the webhook outbox and the
-- NOTIFY of every event are written by them; lro.store.base says what each verb writes).
-- Generated: python -m tests.support.schema postgres; held equal to the migrations by
-- tests/postgres/test_schema.py. Edit a migration, then regenerate.
"""


# -- SQLite ---------------------------------------------------------------------------------
def normalise_sql(statement: str) -> str:
    """One statement without comments, with whitespace collapsed (quoted text kept)."""

    def keep_quoted(match: re.Match[str]) -> str:
        return "" if match[0].startswith("--") else match[0]

    text = _COMMENT_OR_QUOTED.sub(keep_quoted, statement)
    text = " ".join(text.split())
    return _PUNCTUATION.sub(r"\1", text).rstrip(";")


def sqlite_objects(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(type, name, sql) of every schema object, in the order they were created."""
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master"
        " WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    ).fetchall()
    first = {}
    for _type, _name, table, _sql in rows:
        first.setdefault(table, len(first))
    rank = {"table": 0, "index": 1, "trigger": 2, "view": 3}
    ordered = sorted(
        enumerate(rows), key=lambda item: (first[item[1][2]], rank[item[1][0]], item[0])
    )
    return [(r[0], r[1], r[3]) for _, r in ordered]


def sqlite_normalised(conn: sqlite3.Connection) -> list[str]:
    return sorted(normalise_sql(sql) for _, _, sql in sqlite_objects(conn))


def sqlite_statements(script: str) -> list[str]:
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return [s for s in statements if normalise_sql(s)]


def sqlite_dump(conn: sqlite3.Connection) -> str:
    parts = [SQLITE_HEADER]
    for _type, _name, sql in sqlite_objects(conn):
        parts.append(sql.strip() + ";\n")
    return "\n".join(parts)


def migrated_sqlite(path: Path) -> sqlite3.Connection:
    from lro.store.sqlite.schema import connect, migrate_connection

    conn = connect(str(path))
    migrate_connection(conn)
    return conn


# -- PostgreSQL -----------------------------------------------------------------------------
CATALOG: dict[str, str] = {
    "columns": """
        SELECT table_name, rank() OVER (PARTITION BY table_name ORDER BY ordinal_position),
               column_name, data_type, udt_name, is_nullable, column_default, is_identity,
               identity_generation, character_maximum_length, numeric_precision
        FROM information_schema.columns WHERE table_schema = 'public'""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'""",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE NOT tgisinternal
          AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)""",
    "functions": """
        SELECT proname, pg_get_function_identity_arguments(oid), pg_get_functiondef(oid)
        FROM pg_proc WHERE pronamespace = 'public'::regnamespace""",
    "relations": """
        SELECT relname, relkind, coalesce(array_to_string(reloptions, ','), '')
        FROM pg_class WHERE relnamespace = 'public'::regnamespace""",
    "sequences": """
        SELECT sequencename, data_type, start_value, increment_by, min_value, max_value,
               cycle, cache_size
        FROM pg_sequences WHERE schemaname = 'public'""",
}


async def postgres_catalog(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    """What the schema is, read from the catalog, each part sorted: equal for two
    databases exactly when their tables, columns, constraints, indexes, functions,
    triggers, sequences and storage options are."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for part, query in CATALOG.items():
        rows = await conn.fetch(query)
        out[part] = sorted((tuple(str(v) for v in r) for r in rows), key=repr)
    return out


def postgres_dump(url: str) -> str:
    """pg_dump --schema-only of `url`, without its session settings and comments."""
    text = subprocess.run(
        ["pg_dump", "--schema-only", "--no-owner", "--no-privileges", "--no-comments", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    kept: list[str] = []
    for line in text.splitlines():
        # psql meta-commands (`\\restrict <random key>`) are not SQL, and differ per dump.
        if line.startswith(("SET ", "SELECT pg_catalog.set_config", "--", "\\")):
            continue
        if not line.strip() and (not kept or not kept[-1].strip()):
            continue
        kept.append(line)
    return POSTGRES_HEADER + "\n" + "\n".join(kept).strip() + "\n"


async def _write_postgres() -> None:
    from tests.support.postgres import fresh_database

    async with fresh_database() as url:
        POSTGRES_SCHEMA.write_text(postgres_dump(url), encoding="utf-8")


def main(argv: list[str]) -> None:
    if argv == ["sqlite"]:
        with tempfile.TemporaryDirectory() as tmp:
            conn = migrated_sqlite(Path(tmp) / "lro.db")
            SQLITE_SCHEMA.write_text(sqlite_dump(conn), encoding="utf-8")
            conn.close()
    elif argv == ["postgres"]:
        asyncio.run(_write_postgres())
    else:
        raise SystemExit("usage: python -m tests.support.schema sqlite|postgres")


if __name__ == "__main__":
    main(sys.argv[1:])
