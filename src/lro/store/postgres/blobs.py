"""Result blobs on PostgreSQL (`parts.Blobs`), on the store's pool: each chunk is one
statement (its own transaction), and reads fetch a few chunks at a time."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from lro.store.postgres.connection import Database
from lro.store.postgres.rows import PACKAGE
from lro.store.sql import load_numbered
from lro.store.types import BlobInfo

Q = load_numbered(PACKAGE, "blobs.sql")


class PostgresBlobs:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def write_chunk(self, job_id: str, key: str, index: int, data: bytes) -> bool:
        try:
            rows = await self._db.fetch_retrying(
                Q["write_chunk"], job_id=job_id, key=key, n=index, data=data
            )
        except asyncpg.ForeignKeyViolationError:
            return False  # the job was deleted between the EXISTS and the insert
        return bool(rows)

    async def finish(
        self, job_id: str, key: str, size: int, chunk_bytes: int, now: datetime
    ) -> bool:
        try:
            rows = await self._db.fetch_retrying(
                Q["finish_blob"],
                job_id=job_id,
                key=key,
                size=size,
                chunk_bytes=chunk_bytes,
                now=now,
            )
        except asyncpg.ForeignKeyViolationError:
            return False
        return bool(rows)

    async def info(self, job_id: str, key: str) -> BlobInfo | None:
        rows = await self._db.read(Q["blob_info"], job_id=job_id, key=key)
        if not rows:
            return None
        return BlobInfo(rows[0]["size"], rows[0]["chunk_bytes"], rows[0]["created_at"])

    async def read_chunks(self, job_id: str, key: str, first: int, count: int) -> list[bytes]:
        rows = await self._db.read(
            Q["read_chunks"], job_id=job_id, key=key, first=first, count=count
        )
        return [bytes(r["data"]) for r in rows]

    async def delete(self, job_id: str, key: str) -> None:
        await self._db.fetch_retrying(Q["delete_blob"], job_id=job_id, key=key)

    async def delete_job(self, job_id: str, keep: str | None = None) -> None:
        await self._db.fetch_retrying(Q["delete_job_blobs"], job_id=job_id, keep=keep)
