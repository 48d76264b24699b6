"""The webhook outbox on SQLite: the store's own writer and reader threads run it, so an
outbox write is one `BEGIN IMMEDIATE` transaction like any other write."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lro.deliveries import AttemptRecord, Delivery, DeliveryAttempt, DeliveryStatus
from lro.store.migrate import load_queries
from lro.store.sqlite_rows import Row, from_us, to_us

if TYPE_CHECKING:
    from lro.store.sqlite import SQLiteStore

Q = load_queries("sqlite", "outbox.sql")


def _opt_time(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def delivery_from_row(r: Row, history: Sequence[DeliveryAttempt] = ()) -> Delivery:
    return Delivery(
        id=r[0],
        job_id=r[1],
        event_type=r[2],
        url=r[3],
        event_at=from_us(r[4]),
        status=DeliveryStatus(r[5]),
        attempts=r[6],
        next_attempt_at=_opt_time(r[7]),
        created_at=from_us(r[8]),
        delivered_at=_opt_time(r[9]),
        last_status_code=r[10],
        last_error=r[11],
        manual=bool(r[12]),
        history=tuple(history),
        target=r[13],
    )


class SQLiteOutbox:
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def claim_deliveries(
        self, now: datetime, lease_until: datetime, limit: int, skip: Sequence[str] = ()
    ) -> list[Delivery]:
        args = {
            "now": to_us(now),
            "lease_until": to_us(lease_until),
            "limit": limit,
            "skip": json.dumps(list(skip)),
        }

        def tx(conn: sqlite3.Connection) -> tuple[list[Delivery], list[Any]]:
            rows = conn.execute(Q["claim_deliveries"], args).fetchall()
            return sorted((delivery_from_row(r) for r in rows), key=_due_order), []

        return await self._store._write(tx)

    async def defer_deliveries(self, claimed: Sequence[Delivery], until: datetime) -> None:
        args = [{"id": d.id, "attempt": d.attempts, "until": to_us(until)} for d in claimed]

        def tx(conn: sqlite3.Connection) -> tuple[None, list[Any]]:
            conn.executemany(Q["defer_delivery"], args)
            return None, []

        if args:
            await self._store._write(tx)

    async def record_attempt(self, record: AttemptRecord) -> bool:
        args = {
            "id": record.delivery_id,
            "attempt": record.attempt,
            "at": to_us(record.at),
            "status_code": record.status_code,
            "duration_ms": record.duration_ms,
            "error": record.error,
            "status": record.status.value,
            "next_attempt_at": None
            if record.next_attempt_at is None
            else to_us(record.next_attempt_at),
        }

        def tx(conn: sqlite3.Connection) -> tuple[bool, list[Any]]:
            if conn.execute(Q["record_attempt"], args).rowcount != 1:
                return False, []
            conn.execute(Q["insert_attempt"], args)
            return True, []

        try:
            return await self._store._write(tx)
        except sqlite3.IntegrityError:  # this attempt was recorded already
            return False

    async def pending_deliveries(self) -> int:
        row = await self._store._read(lambda c: c.execute(Q["pending_deliveries"]).fetchone())
        return int(row[0])

    async def list_deliveries(self, job_id: str) -> list[Delivery]:
        def read(conn: sqlite3.Connection) -> list[Delivery]:
            rows = conn.execute(Q["job_deliveries"], (job_id,)).fetchall()
            history: dict[str, list[DeliveryAttempt]] = {}
            for a in conn.execute(Q["job_delivery_attempts"], (job_id,)).fetchall():
                history.setdefault(a[0], []).append(
                    DeliveryAttempt(a[1], from_us(a[2]), a[3], a[4], a[5])
                )
            return [delivery_from_row(r, history.get(r[0], ())) for r in rows]

        return await self._store._read(read)

    async def retry_delivery(self, job_id: str, delivery_id: str, now: datetime) -> Delivery | None:
        args = {"id": delivery_id, "job_id": job_id, "now": to_us(now)}

        def tx(conn: sqlite3.Connection) -> tuple[Delivery | None, list[Any]]:
            row = conn.execute(Q["retry_delivery"], args).fetchone()
            return (None if row is None else delivery_from_row(row)), []

        return await self._store._write(tx)

    async def shared_setting(self, key: str, default: str) -> str:
        def tx(conn: sqlite3.Connection) -> tuple[str, list[Any]]:
            conn.execute(Q["put_setting"], (key, default))
            return str(conn.execute(Q["get_setting"], (key,)).fetchone()[0]), []

        return await self._store._write(tx)


def _due_order(d: Delivery) -> tuple[datetime, str]:
    return (d.created_at, d.id)
