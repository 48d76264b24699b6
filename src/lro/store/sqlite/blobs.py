"""Result blobs on SQLite (`parts.Blobs`): each chunk is one `BEGIN IMMEDIATE`
transaction on the writer thread, and reads run on the reader thread, so a download never
holds the write lock and a large upload never blocks it for long."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from lro.store.sql import load_queries
from lro.store.sqlite.connection import Changes, Database
from lro.store.sqlite.rows import PACKAGE, from_us, to_us
from lro.store.types import BlobInfo

Q = load_queries(PACKAGE, "blobs.sql")


class SQLiteBlobs:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _changed(self, query: str, args: dict[str, Any]) -> bool:
        def tx(conn: sqlite3.Connection) -> tuple[bool, Changes]:
            return conn.execute(query, args).rowcount > 0, []

        return await self._db.write(tx)

    async def write_chunk(self, job_id: str, key: str, index: int, data: bytes) -> bool:
        args = {"job_id": job_id, "key": key, "n": index, "data": data}
        return await self._changed(Q["write_chunk"], args)

    async def finish(
        self, job_id: str, key: str, size: int, chunk_bytes: int, now: datetime
    ) -> bool:
        args = {
            "job_id": job_id,
            "key": key,
            "size": size,
            "chunk_bytes": chunk_bytes,
            "now": to_us(now),
        }
        return await self._changed(Q["finish_blob"], args)

    async def info(self, job_id: str, key: str) -> BlobInfo | None:
        args = {"job_id": job_id, "key": key}
        row = await self._db.read(lambda c: c.execute(Q["blob_info"], args).fetchone())
        if row is None:
            return None
        return BlobInfo(row["size"], row["chunk_bytes"], from_us(row["created_at"]))

    async def read_chunks(self, job_id: str, key: str, first: int, count: int) -> list[bytes]:
        args = {"job_id": job_id, "key": key, "first": first, "count": count}
        rows = await self._db.read(lambda c: c.execute(Q["read_chunks"], args).fetchall())
        return [bytes(r["data"]) for r in rows]

    async def delete(self, job_id: str, key: str) -> None:
        args = {"job_id": job_id, "key": key}

        def tx(conn: sqlite3.Connection) -> tuple[None, Changes]:
            conn.execute(Q["delete_blob"], args)
            conn.execute(Q["delete_blob_chunks"], args)
            return None, []

        await self._db.write(tx)

    async def delete_job(self, job_id: str, keep: str | None = None) -> None:
        args = {"job_id": job_id, "keep": keep}

        def tx(conn: sqlite3.Connection) -> tuple[None, Changes]:
            conn.execute(Q["delete_job_blobs"], args)
            conn.execute(Q["delete_job_chunks"], args)
            return None, []

        await self._db.write(tx)
