"""The webhook outbox on Redis (`parts.Outbox`). Delivery records are written by the job
scripts (common.lua: change); these verbs claim, defer, record and retry them, each one
script, so concurrent dispatchers in many processes stay exclusive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lro.deliveries import AttemptRecord, Delivery
from lro.store.redis.connection import Connection
from lro.store.redis.rows import (
    attempt_from_json,
    delivery_from_hash,
    hash_of,
    us_text,
)


class RedisOutbox:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def claim_deliveries(
        self, now: datetime, lease_until: datetime, limit: int, skip: Sequence[str] = ()
    ) -> list[Delivery]:
        if limit < 1:
            return []
        args = {
            "now": us_text(now),
            "lease_until": us_text(lease_until),
            "limit": limit,
            "skip": list(skip),
        }
        rows = await self._conn.run("outbox_claim", args)
        found = [delivery_from_hash(hash_of(r)) for r in rows]
        return sorted(found, key=lambda d: (d.created_at, d.id))

    async def defer_deliveries(self, claimed: Sequence[Delivery], until: datetime) -> None:
        if claimed:
            items = [[d.id, str(d.attempts)] for d in claimed]
            await self._conn.run("outbox_defer", {"until": us_text(until), "items": items})

    async def record_attempt(self, record: AttemptRecord) -> bool:
        args = {
            "id": record.delivery_id,
            "attempt": str(record.attempt),
            "status": record.status.value,
            "at": us_text(record.at),
            "duration_ms": record.duration_ms,
        }
        if record.next_attempt_at is not None:
            args["next_attempt_at"] = us_text(record.next_attempt_at)
        if record.status_code is not None:
            args["status_code"] = str(record.status_code)
        if record.error is not None:
            args["error"] = record.error
        return bool(await self._conn.run("outbox_record", args) == 1)

    async def list_deliveries(self, job_id: str) -> list[Delivery]:
        conn = self._conn
        conn._check()
        with conn.errors():
            ids = await conn.client.lrange(conn.key(f"job:{job_id}:deliveries"), 0, -1)
            async with conn.client.pipeline(transaction=True) as pipe:
                for d in ids:
                    pipe.hgetall(conn.key(f"delivery:{d}"))
                    pipe.hvals(conn.key(f"delivery:{d}:attempts"))
                raw = await pipe.execute() if ids else []
        out = []
        for h, attempts in zip(raw[::2], raw[1::2], strict=True):
            if h:
                history = sorted((attempt_from_json(a) for a in attempts), key=lambda a: a.attempt)
                out.append(delivery_from_hash(h, history))
        return sorted(out, key=lambda d: (d.created_at, d.id))

    async def retry_delivery(self, job_id: str, delivery_id: str, now: datetime) -> Delivery | None:
        args = {"job_id": job_id, "id": delivery_id, "now": us_text(now)}
        row = await self._conn.run("outbox_retry", args)
        if not row:
            return None
        conn = self._conn
        with conn.errors():
            attempts = await conn.client.hvals(conn.key(f"delivery:{delivery_id}:attempts"))
        history = sorted((attempt_from_json(a) for a in attempts), key=lambda a: a.attempt)
        return delivery_from_hash(hash_of(row), history)

    async def shared_setting(self, key: str, default: str) -> str:
        conn = self._conn
        conn._check()
        with conn.errors():
            await conn.client.hsetnx(conn.key("settings"), key, default)
            value = await conn.client.hget(conn.key("settings"), key)
        return default if value is None else str(value)

    async def pending_deliveries(self) -> int:
        conn = self._conn
        conn._check()
        with conn.errors():
            return int(await conn.client.zcard(conn.key("outbox")))
