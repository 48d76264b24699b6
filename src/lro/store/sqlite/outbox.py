"""The webhook outbox on SQLite (`parts.Outbox`): the connection layer's writer and reader
threads run it, so an outbox write is one `BEGIN IMMEDIATE` transaction like any other
write. Delivery rows themselves are written by triggers on `jobs` (schema.sql)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from lro.deliveries import AttemptRecord, Delivery, DeliveryAttempt, DeliveryStatus
from lro.store.sql import load_queries
from lro.store.sqlite.connection import Changes, Database
from lro.store.sqlite.rows import PACKAGE, Row, from_us, opt_time, to_us

Q = load_queries(PACKAGE, "outbox.sql")


def delivery_from_row(r: Row, history: Sequence[DeliveryAttempt] = ()) -> Delivery:
    return Delivery(
        id=r["id"],
        job_id=r["job_id"],
        event_type=r["event_type"],
        url=r["url"],
        event_at=from_us(r["event_at"]),
        status=DeliveryStatus(r["status"]),
        attempts=r["attempts"],
        next_attempt_at=opt_time(r["next_attempt_at"]),
        created_at=from_us(r["created_at"]),
        delivered_at=opt_time(r["delivered_at"]),
        last_status_code=r["last_status_code"],
        last_error=r["last_error"],
        manual=bool(r["manual"]),
        history=tuple(history),
        target=r["target"],
    )


def _due_order(d: Delivery) -> tuple[datetime, str]:
    return (d.created_at, d.id)


class SQLiteOutbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim_deliveries(
        self, now: datetime, lease_until: datetime, limit: int, skip: Sequence[str] = ()
    ) -> list[Delivery]:
        args = {
            "now": to_us(now),
            "lease_until": to_us(lease_until),
            "limit": limit,
            "skip": json.dumps(list(skip)),
        }

        def tx(conn: sqlite3.Connection) -> tuple[list[Delivery], Changes]:
            rows = conn.execute(Q["claim_deliveries"], args).fetchall()
            return sorted((delivery_from_row(r) for r in rows), key=_due_order), []

        return await self._db.write(tx)

    async def defer_deliveries(self, claimed: Sequence[Delivery], until: datetime) -> None:
        args = [{"id": d.id, "attempt": d.attempts, "until": to_us(until)} for d in claimed]

        def tx(conn: sqlite3.Connection) -> tuple[None, Changes]:
            conn.executemany(Q["defer_delivery"], args)
            return None, []

        if args:
            await self._db.write(tx)

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

        def tx(conn: sqlite3.Connection) -> tuple[bool, Changes]:
            if conn.execute(Q["record_attempt"], args).rowcount != 1:
                return False, []
            conn.execute(Q["insert_attempt"], args)
            return True, []

        try:
            return await self._db.write(tx)
        except sqlite3.IntegrityError:  # this attempt was recorded already
            return False

    async def pending_deliveries(self) -> int:
        row = await self._db.read(lambda c: c.execute(Q["pending_deliveries"]).fetchone())
        return int(row[0])

    async def list_deliveries(self, job_id: str) -> list[Delivery]:
        args = {"job_id": job_id}

        def read(conn: sqlite3.Connection) -> list[Delivery]:
            rows = conn.execute(Q["job_deliveries"], args).fetchall()
            history: dict[str, list[DeliveryAttempt]] = {}
            for a in conn.execute(Q["job_delivery_attempts"], args).fetchall():
                history.setdefault(a["delivery_id"], []).append(
                    DeliveryAttempt(
                        a["attempt"],
                        from_us(a["at"]),
                        a["status_code"],
                        a["duration_ms"],
                        a["error"],
                    )
                )
            return [delivery_from_row(r, history.get(r["id"], ())) for r in rows]

        return await self._db.read(read)

    async def retry_delivery(self, job_id: str, delivery_id: str, now: datetime) -> Delivery | None:
        args = {"id": delivery_id, "job_id": job_id, "now": to_us(now)}

        def tx(conn: sqlite3.Connection) -> tuple[Delivery | None, Changes]:
            row = conn.execute(Q["retry_delivery"], args).fetchone()
            if row is None:  # unknown, or an attempt is in flight: answered as it is
                row = conn.execute(Q["get_delivery"], args).fetchone()
            return (None if row is None else delivery_from_row(row)), []

        return await self._db.write(tx)

    async def shared_setting(self, key: str, default: str) -> str:
        def tx(conn: sqlite3.Connection) -> tuple[str, Changes]:
            conn.execute(Q["put_setting"], {"key": key, "value": default})
            return str(conn.execute(Q["get_setting"], {"key": key}).fetchone()["value"]), []

        return await self._db.write(tx)
