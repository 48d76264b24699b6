"""Result blobs on PostgreSQL (see `Blobs` in store/base.py), on the store's pool: each
chunk is one statement (its own transaction), and reads fetch a few chunks at a time."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from lro.store.base import BlobInfo
from lro.store.migrate import load_queries

if TYPE_CHECKING:
    from lro.store.postgres import PostgresStore

Q = load_queries("postgres", "results.sql")


class PostgresBlobs:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def write_chunk(self, job_id: str, key: str, index: int, data: bytes) -> bool:
        try:
            rows = await self._store._fetch_retrying(Q["write_chunk"], job_id, key, index, data)
        except asyncpg.ForeignKeyViolationError:
            return False  # the job was deleted between the EXISTS and the insert
        return bool(rows)

    async def finish(
        self, job_id: str, key: str, size: int, chunk_bytes: int, now: datetime
    ) -> bool:
        try:
            rows = await self._store._fetch_retrying(
                Q["finish_blob"], job_id, key, size, chunk_bytes, now
            )
        except asyncpg.ForeignKeyViolationError:
            return False
        return bool(rows)

    async def info(self, job_id: str, key: str) -> BlobInfo | None:
        rows = await self._store._read(Q["blob_info"], job_id, key)
        return BlobInfo(rows[0][0], rows[0][1], rows[0][2]) if rows else None

    async def read_chunks(self, job_id: str, key: str, first: int, count: int) -> list[bytes]:
        rows = await self._store._read(Q["read_chunks"], job_id, key, first, count)
        return [bytes(r[0]) for r in rows]

    async def delete(self, job_id: str, key: str) -> None:
        await self._store._fetch_retrying(Q["delete_blob"], job_id, key)

    async def delete_job(self, job_id: str, keep: str | None = None) -> None:
        await self._store._fetch_retrying(Q["delete_job_blobs"], job_id, keep)
