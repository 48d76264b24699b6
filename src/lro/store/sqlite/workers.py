"""The worker registry on SQLite (`parts.Workers`): one row per worker process in the
shared file, so `lro serve` lists the `lro worker` processes beside it."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from lro.store.sql import load_queries
from lro.store.sqlite.connection import Changes, Database
from lro.store.sqlite.rows import PACKAGE, from_us, to_us
from lro.store.types import WorkerInfo

Q = load_queries(PACKAGE, "workers.sql")


def _info(row: sqlite3.Row) -> WorkerInfo:
    return WorkerInfo(
        worker_id=row["worker_id"],
        host=row["host"],
        pid=int(row["pid"]),
        queues=tuple(json.loads(row["queues"])),
        operations=tuple(json.loads(row["operations"])),
        concurrency=int(row["concurrency"]),
        busy=int(row["busy"]),
        started_at=from_us(row["started_at"]),
        last_seen_at=from_us(row["last_seen_at"]),
    )


class SQLiteWorkers:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def beat(self, worker: WorkerInfo) -> None:
        args = {
            "worker_id": worker.worker_id,
            "host": worker.host,
            "pid": worker.pid,
            "queues": json.dumps(list(worker.queues)),
            "operations": json.dumps(list(worker.operations)),
            "concurrency": worker.concurrency,
            "busy": worker.busy,
            "started_at": to_us(worker.started_at),
            "last_seen_at": to_us(worker.last_seen_at),
        }

        def tx(conn: sqlite3.Connection) -> tuple[None, Changes]:
            conn.execute(Q["beat"], args)
            return None, []

        await self._db.write(tx)

    async def live(self, seen_after: datetime) -> list[WorkerInfo]:
        args = {"seen_after": to_us(seen_after)}
        rows = await self._db.read(lambda c: c.execute(Q["live"], args).fetchall())
        return [_info(r) for r in rows]

    async def remove(self, worker_id: str) -> None:
        def tx(conn: sqlite3.Connection) -> tuple[None, Changes]:
            conn.execute(Q["remove"], {"worker_id": worker_id})
            return None, []

        await self._db.write(tx)

    async def prune(self, seen_before: datetime) -> int:
        def tx(conn: sqlite3.Connection) -> tuple[int, Changes]:
            return conn.execute(Q["prune"], {"seen_before": to_us(seen_before)}).rowcount, []

        return await self._db.write(tx)
