"""Abuse-limit counters on SQLite (`parts.Quotas`): a bucket take is one `BEGIN
IMMEDIATE` transaction, so processes sharing the file share the budget."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from lro.store.rules import wait_seconds
from lro.store.sql import load_queries
from lro.store.sqlite.connection import Changes, Database
from lro.store.sqlite.rows import PACKAGE, to_us

Q = load_queries(PACKAGE, "quotas.sql")


class SQLiteQuotas:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def take_tokens(
        self, key: str, *, rate: float, burst: float, cost: float, now: datetime
    ) -> float:
        args = {"key": key, "rate": rate, "burst": burst, "cost": cost, "now": to_us(now)}

        def tx(conn: sqlite3.Connection) -> tuple[float, Changes]:
            if conn.execute(Q["take_tokens"], args).fetchone() is not None:
                return 0.0, []
            row = conn.execute(Q["bucket_tokens"], args).fetchone()
            left = None if row is None else float(row[0])
            return wait_seconds(left, rate=rate, burst=burst, cost=cost), []

        return await self._db.write(tx)

    async def tokens_left(self, key: str, *, rate: float, burst: float, now: datetime) -> float:
        args = {"key": key, "rate": rate, "burst": burst, "now": to_us(now)}
        row = await self._db.read(lambda c: c.execute(Q["bucket_tokens"], args).fetchone())
        return burst if row is None or row[0] is None else float(row[0])

    async def active_jobs(self, owner: str) -> int:
        args = {"owner": owner}
        row = await self._db.read(lambda c: c.execute(Q["active_jobs"], args).fetchone())
        return int(row[0])
