"""The finished-jobs timeline on PostgreSQL (`lro.store.timeline`): the same query as
SQLite's, so both give the same nearest-rank figures."""

from __future__ import annotations

from datetime import datetime

from lro.store.postgres.connection import Database
from lro.store.postgres.rows import PACKAGE
from lro.store.sql import load_numbered
from lro.store.timeline import TimelineBucket

Q = load_numbered(PACKAGE, "timeline.sql")


class PostgresTimeline:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def finished_buckets(
        self, owner: str | None, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[TimelineBucket]:
        if owner is None:
            rows = await self._db.read(
                Q["buckets_all"], since=since, until=until, bucket=bucket_seconds
            )
        else:
            rows = await self._db.read(
                Q["buckets_owner"], owner=owner, since=since, until=until, bucket=bucket_seconds
            )
        return [
            TimelineBucket(
                int(r["b"]),
                int(r["completed"]),
                int(r["failed"]),
                int(r["cancelled"]),
                r["p50"],
                r["p95"],
            )
            for r in rows
        ]
