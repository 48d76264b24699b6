"""Result blobs on SQLite (see `Blobs` in store/base.py): each chunk is one `BEGIN
IMMEDIATE` transaction on the writer thread, and reads run on the reader thread, so a
download never holds the write lock and a large upload never blocks it for long."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lro.store.base import BlobInfo
from lro.store.migrate import load_queries
from lro.store.sqlite_rows import from_us, to_us

if TYPE_CHECKING:
    from lro.store.sqlite import SQLiteStore

Q = load_queries("sqlite", "results.sql")


class SQLiteBlobs:
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def _changed(self, query: str, args: dict[str, Any]) -> bool:
        def tx(conn: sqlite3.Connection) -> tuple[bool, list[Any]]:
            return conn.execute(query, args).rowcount > 0, []

        return await self._store._write(tx)

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
        row = await self._store._read(lambda c: c.execute(Q["blob_info"], (job_id, key)).fetchone())
        return None if row is None else BlobInfo(row[0], row[1], from_us(row[2]))

    async def read_chunks(self, job_id: str, key: str, first: int, count: int) -> list[bytes]:
        args = {"job_id": job_id, "key": key, "first": first, "count": count}
        rows = await self._store._read(lambda c: c.execute(Q["read_chunks"], args).fetchall())
        return [bytes(r[0]) for r in rows]

    async def delete(self, job_id: str, key: str) -> None:
        args = {"job_id": job_id, "key": key}

        def tx(conn: sqlite3.Connection) -> tuple[None, list[Any]]:
            conn.execute(Q["delete_blob"], args)
            conn.execute(Q["delete_blob_chunks"], args)
            return None, []

        await self._store._write(tx)

    async def delete_job(self, job_id: str, keep: str | None = None) -> None:
        args = {"job_id": job_id, "keep": keep}

        def tx(conn: sqlite3.Connection) -> tuple[None, list[Any]]:
            conn.execute(Q["delete_job_blobs"], args)
            conn.execute(Q["delete_job_chunks"], args)
            return None, []

        await self._store._write(tx)
