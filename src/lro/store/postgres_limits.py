"""Abuse-limit counters on PostgreSQL: one bucket row per key, so every API process on
the database draws from the same budget."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from lro.store.limits import wait_seconds
from lro.store.migrate import load_queries

if TYPE_CHECKING:
    from lro.store.postgres import PostgresStore

Q = load_queries("postgres", "limits.sql")


class PostgresLimits:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def take_tokens(
        self, key: str, *, rate: float, burst: float, cost: float, now: datetime
    ) -> float:
        if await self._store._fetch_retrying(Q["take_tokens"], key, rate, burst, now, cost):
            return 0.0
        rows = await self._store._read(Q["bucket_tokens"], key, rate, burst, now)
        left = float(rows[0][0]) if rows else None
        return wait_seconds(left, rate=rate, burst=burst, cost=cost)

    async def active_jobs(self, owner: str) -> int:
        rows = await self._store._read(Q["active_jobs"], owner)
        return int(rows[0][0])
