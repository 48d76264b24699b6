"""Abuse-limit counters on SQLite: a bucket take is one `BEGIN IMMEDIATE` transaction."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lro.store.limits import wait_seconds
from lro.store.migrate import load_queries
from lro.store.sqlite_rows import to_us

if TYPE_CHECKING:
    from lro.store.sqlite import SQLiteStore

Q = load_queries("sqlite", "limits.sql")


class SQLiteLimits:
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def take_tokens(
        self, key: str, *, rate: float, burst: float, cost: float, now: datetime
    ) -> float:
        args = {"key": key, "rate": rate, "burst": burst, "cost": cost, "now": to_us(now)}

        def tx(conn: sqlite3.Connection) -> tuple[float, list[Any]]:
            if conn.execute(Q["take_tokens"], args).fetchone() is not None:
                return 0.0, []
            row = conn.execute(Q["bucket_tokens"], args).fetchone()
            left = None if row is None else float(row[0])
            return wait_seconds(left, rate=rate, burst=burst, cost=cost), []

        return await self._store._write(tx)

    async def active_jobs(self, owner: str) -> int:
        return int(
            await self._store._read(lambda c: c.execute(Q["active_jobs"], (owner,)).fetchone()[0])
        )
