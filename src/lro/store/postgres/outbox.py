"""The webhook outbox on PostgreSQL (`parts.Outbox`), on the store's pool: claims with
SKIP LOCKED so any number of dispatchers in any number of processes share the work.
Delivery rows themselves are written by triggers on `lro_jobs` (schema.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from lro.deliveries import AttemptRecord, Delivery, DeliveryAttempt, DeliveryStatus
from lro.store.postgres.connection import Database
from lro.store.postgres.rows import PACKAGE, Record
from lro.store.sql import load_numbered

Q = load_numbered(PACKAGE, "outbox.sql")


def delivery_from_record(r: Record, history: Sequence[DeliveryAttempt] = ()) -> Delivery:
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
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim_deliveries(
        self, now: datetime, lease_until: datetime, limit: int, skip: Sequence[str] = ()
    ) -> list[Delivery]:
        rows = await self._db.fetch_retrying(
            Q["claim_deliveries"], now=now, lease_until=lease_until, limit=limit, skip=list(skip)
        )
        return sorted((delivery_from_record(r) for r in rows), key=lambda d: (d.created_at, d.id))

    async def defer_deliveries(self, claimed: Sequence[Delivery], until: datetime) -> None:
        if claimed:
            await self._db.fetch_retrying(
                Q["defer_deliveries"],
                ids=[d.id for d in claimed],
                attempts=[d.attempts for d in claimed],
                until=until,
            )

    async def record_attempt(self, record: AttemptRecord) -> bool:
        try:
            rows = await self._db.fetch_retrying(
                Q["record_attempt"],
                id=record.delivery_id,
                attempt=record.attempt,
                at=record.at,
                status_code=record.status_code,
                duration_ms=record.duration_ms,
                error=record.error,
                status=record.status.value,
                next_attempt_at=record.next_attempt_at,
            )
        except asyncpg.UniqueViolationError:  # this attempt was recorded already
            return False
        return bool(rows[0][0])

    async def pending_deliveries(self) -> int:
        rows = await self._db.read(Q["pending_deliveries"])
        return int(rows[0][0])

    async def list_deliveries(self, job_id: str) -> list[Delivery]:
        rows = await self._db.read(Q["job_deliveries"], job_id=job_id)
        if not rows:
            return []
        history: dict[str, list[DeliveryAttempt]] = {}
        for a in await self._db.read(Q["job_delivery_attempts"], job_id=job_id):
            history.setdefault(a["delivery_id"], []).append(
                DeliveryAttempt(
                    a["attempt"], a["at"], a["status_code"], a["duration_ms"], a["error"]
                )
            )
        return [delivery_from_record(r, history.get(r["id"], ())) for r in rows]

    async def retry_delivery(self, job_id: str, delivery_id: str, now: datetime) -> Delivery | None:
        rows = await self._db.fetch_retrying(
            Q["retry_delivery"], job_id=job_id, id=delivery_id, now=now
        )
        return delivery_from_record(rows[0]) if rows else None

    async def shared_setting(self, key: str, default: str) -> str:
        rows = await self._db.fetch_retrying(Q["shared_setting"], key=key, value=default)
        if not rows:  # lost the race to a concurrent insert: read the winner's value
            rows = await self._db.read(Q["get_setting"], key=key)
        return str(rows[0]["value"])
