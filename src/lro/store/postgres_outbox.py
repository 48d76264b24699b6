"""The webhook outbox on PostgreSQL, on the store's pool: claims with SKIP LOCKED so any
number of dispatchers in any number of processes share the work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from lro.deliveries import AttemptRecord, Delivery, DeliveryAttempt, DeliveryStatus
from lro.store.migrate import load_queries

if TYPE_CHECKING:
    from lro.store.postgres import PostgresStore

Q = load_queries("postgres", "outbox.sql")


def delivery_from_record(r: Any, history: Sequence[DeliveryAttempt] = ()) -> Delivery:
    return Delivery(
        id=r["id"],
        job_id=r["job_id"],
        event_type=r["event_type"],
        url=r["url"],
        event_at=r["event_at"],
        status=DeliveryStatus(r["status"]),
        attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"],
        created_at=r["created_at"],
        delivered_at=r["delivered_at"],
        last_status_code=r["last_status_code"],
        last_error=r["last_error"],
        manual=r["manual"],
        history=tuple(history),
        target=r["target"],
    )


class PostgresOutbox:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def claim_deliveries(
        self, now: datetime, lease_until: datetime, limit: int, skip: Sequence[str] = ()
    ) -> list[Delivery]:
        rows = await self._store._fetch_retrying(
            Q["claim_deliveries"], now, lease_until, limit, list(skip)
        )
        return sorted((delivery_from_record(r) for r in rows), key=lambda d: (d.created_at, d.id))

    async def defer_deliveries(self, claimed: Sequence[Delivery], until: datetime) -> None:
        if claimed:
            await self._store._fetch_retrying(
                Q["defer_deliveries"], [d.id for d in claimed], [d.attempts for d in claimed], until
            )

    async def record_attempt(self, record: AttemptRecord) -> bool:
        try:
            rows = await self._store._fetch_retrying(
                Q["record_attempt"],
                record.delivery_id,
                record.attempt,
                record.at,
                record.status_code,
                record.duration_ms,
                record.error,
                record.status.value,
                record.next_attempt_at,
            )
        except asyncpg.UniqueViolationError:  # this attempt was recorded already
            return False
        return bool(rows[0][0])

    async def pending_deliveries(self) -> int:
        rows = await self._store._read(Q["pending_deliveries"])
        return int(rows[0][0])

    async def list_deliveries(self, job_id: str) -> list[Delivery]:
        rows = await self._store._read(Q["job_deliveries"], job_id)
        if not rows:
            return []
        history: dict[str, list[DeliveryAttempt]] = {}
        for a in await self._store._read(Q["job_delivery_attempts"], job_id):
            history.setdefault(a[0], []).append(DeliveryAttempt(a[1], a[2], a[3], a[4], a[5]))
        return [delivery_from_record(r, history.get(r["id"], ())) for r in rows]

    async def retry_delivery(self, job_id: str, delivery_id: str, now: datetime) -> Delivery | None:
        rows = await self._store._fetch_retrying(Q["retry_delivery"], job_id, delivery_id, now)
        return delivery_from_record(rows[0]) if rows else None

    async def shared_setting(self, key: str, default: str) -> str:
        rows = await self._store._fetch_retrying(Q["shared_setting"], key, default)
        if not rows:  # lost the race to a concurrent insert: read the winner's value
            rows = await self._store._read(Q["get_setting"], key)
        return str(rows[0][0])
