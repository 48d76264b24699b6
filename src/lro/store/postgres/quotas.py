"""Abuse-limit counters on PostgreSQL (`parts.Quotas`): one bucket row per key, so every
API process on the database draws from the same budget."""

from __future__ import annotations

from datetime import datetime

from lro.store.postgres.connection import Database
from lro.store.postgres.rows import PACKAGE
from lro.store.rules import wait_seconds
from lro.store.sql import load_numbered

Q = load_numbered(PACKAGE, "quotas.sql")


class PostgresQuotas:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def take_tokens(
        self, key: str, *, rate: float, burst: float, cost: float, now: datetime
    ) -> float:
        bucket = {"key": key, "rate": rate, "burst": burst, "now": now}
        if await self._db.fetch_retrying(Q["take_tokens"], **bucket, cost=cost):
            return 0.0
        rows = await self._db.read(Q["bucket_tokens"], **bucket)
        left = float(rows[0][0]) if rows else None
        return wait_seconds(left, rate=rate, burst=burst, cost=cost)

    async def tokens_left(self, key: str, *, rate: float, burst: float, now: datetime) -> float:
        rows = await self._db.read(Q["bucket_tokens"], key=key, rate=rate, burst=burst, now=now)
        return float(rows[0][0]) if rows and rows[0][0] is not None else burst

    async def active_jobs(self, owner: str) -> int:
        rows = await self._db.read(Q["active_jobs"], owner=owner)
        return int(rows[0][0])
