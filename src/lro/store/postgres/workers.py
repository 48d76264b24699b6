"""The worker registry on PostgreSQL (`parts.Workers`): one row per worker process, so
every API process on the database lists the same live workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lro.store.postgres.connection import Database
from lro.store.postgres.rows import PACKAGE
from lro.store.sql import load_numbered
from lro.store.types import WorkerInfo

Q = load_numbered(PACKAGE, "workers.sql")


def _info(row: Any) -> WorkerInfo:
    return WorkerInfo(
        worker_id=row["worker_id"],
        host=row["host"],
        pid=int(row["pid"]),
        queues=tuple(row["queues"]),
        operations=tuple(row["operations"]),
        concurrency=int(row["concurrency"]),
        busy=int(row["busy"]),
        started_at=row["started_at"],
        last_seen_at=row["last_seen_at"],
    )


class PostgresWorkers:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def beat(self, worker: WorkerInfo) -> None:
        await self._db.fetch_retrying(
            Q["beat"],
            worker_id=worker.worker_id,
            host=worker.host,
            pid=worker.pid,
            queues=list(worker.queues),
            operations=list(worker.operations),
            concurrency=worker.concurrency,
            busy=worker.busy,
            started_at=worker.started_at,
            last_seen_at=worker.last_seen_at,
        )

    async def live(self, seen_after: datetime) -> list[WorkerInfo]:
        return [_info(r) for r in await self._db.read(Q["live"], seen_after=seen_after)]

    async def remove(self, worker_id: str) -> None:
        await self._db.fetch_retrying(Q["remove"], worker_id=worker_id)

    async def prune(self, seen_before: datetime) -> int:
        rows = await self._db.fetch_retrying(Q["prune"], seen_before=seen_before)
        return int(rows[0][0])
