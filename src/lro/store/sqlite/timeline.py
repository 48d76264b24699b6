"""The finished-jobs timeline on SQLite (`lro.store.timeline`): one indexed read, the
bucketing and percentiles done by SQLite's window functions."""

from __future__ import annotations

from datetime import datetime

from lro.store.sql import load_queries
from lro.store.sqlite.connection import Database
from lro.store.sqlite.rows import PACKAGE, to_us
from lro.store.timeline import TimelineBucket

Q = load_queries(PACKAGE, "timeline.sql")
US = 1_000_000


def _seconds(us: int | None) -> float | None:
    return None if us is None else us / US


class SQLiteTimeline:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def finished_buckets(
        self, owner: str | None, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[TimelineBucket]:
        query = Q["buckets_all" if owner is None else "buckets_owner"]
        args = {
            "owner": owner,
            "since": to_us(since),
            "until": to_us(until),
            "bucket": bucket_seconds * US,
        }
        rows = await self._db.read(lambda c: c.execute(query, args).fetchall())
        return [
            TimelineBucket(
                int(r["b"]),
                int(r["completed"]),
                int(r["failed"]),
                int(r["cancelled"]),
                _seconds(r["p50"]),
                _seconds(r["p95"]),
            )
            for r in rows
        ]
