"""Per-principal quota counters on Redis (`parts.Quotas`): token buckets as hashes
changed by one script each take, and each owner's unfinished jobs as a set the job
scripts keep (insert adds, the change to a terminal status removes)."""

from __future__ import annotations

from datetime import datetime

from lro.store.redis.connection import Connection
from lro.store.redis.rows import to_us, us_text
from lro.store.rules import wait_seconds


class RedisQuotas:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def take_tokens(
        self, key: str, *, rate: float, burst: float, cost: float, now: datetime
    ) -> float:
        args = {"key": key, "rate": rate, "burst": burst, "cost": cost, "now": us_text(now)}
        answer = await self._conn.run("take_tokens", args)
        if answer[0] == 1:
            return 0.0
        return wait_seconds(float(answer[1]), rate=rate, burst=burst, cost=cost)

    async def tokens_left(self, key: str, *, rate: float, burst: float, now: datetime) -> float:
        conn = self._conn
        conn._check()
        with conn.errors():
            tokens, at = await conn.client.hmget(conn.key(f"bucket:{key}"), ["tokens", "at"])
        if tokens is None or at is None:
            return burst
        elapsed_us = max(0.0, to_us(now) - float(at))
        return min(burst, float(tokens) + elapsed_us / 1e6 * rate)

    async def active_jobs(self, owner: str) -> int:
        if owner == "":
            return 0
        conn = self._conn
        conn._check()
        with conn.errors():
            return int(await conn.client.scard(conn.key(f"active:{owner}")))
