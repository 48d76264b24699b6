"""Result blobs on Redis (`parts.Blobs`): one hash per blob (`blob:<job>:<key>`: size,
chunk_bytes, created_at) written by `finish`, and one hash of chunks per blob
(`chunks:<job>:<key>`, field = chunk index). Writes are scripts that check the job
exists, so no chunk outlives its job; deleting the job deletes both (common.lua)."""

from __future__ import annotations

from datetime import datetime

from lro.store.redis.connection import Connection
from lro.store.redis.rows import from_us, us_text
from lro.store.types import BlobInfo


class RedisBlobs:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _keys(self, job_id: str, key: str) -> tuple[str, str]:
        c = self._conn
        return c.key(f"blob:{job_id}:{key}"), c.key(f"chunks:{job_id}:{key}")

    async def write_chunk(self, job_id: str, key: str, index: int, data: bytes) -> bool:
        args = {"job_id": job_id, "key": key, "index": index}
        return bool(await self._conn.run("blob_write", args, data, binary=True) == 1)

    async def finish(
        self, job_id: str, key: str, size: int, chunk_bytes: int, now: datetime
    ) -> bool:
        args = {
            "job_id": job_id,
            "key": key,
            "size": str(size),
            "chunk_bytes": str(chunk_bytes),
            "created_at": us_text(now),
        }
        return bool(await self._conn.run("blob_finish", args) == 1)

    async def info(self, job_id: str, key: str) -> BlobInfo | None:
        conn = self._conn
        conn._check()
        with conn.errors():
            h = await conn.client.hgetall(self._keys(job_id, key)[0])
        if not h:
            return None
        return BlobInfo(int(h["size"]), int(h["chunk_bytes"]), from_us(h["created_at"]))

    async def read_chunks(self, job_id: str, key: str, first: int, count: int) -> list[bytes]:
        if count < 1:
            return []
        conn = self._conn
        conn._check()
        with conn.errors():
            got = await conn.binary.hmget(
                self._keys(job_id, key)[1], [str(i) for i in range(first, first + count)]
            )
        out: list[bytes] = []
        for chunk in got:
            if chunk is None:
                break
            out.append(bytes(chunk))
        return out

    async def delete(self, job_id: str, key: str) -> None:
        conn = self._conn
        conn._check()
        with conn.errors():
            async with conn.client.pipeline(transaction=True) as pipe:
                pipe.delete(*self._keys(job_id, key))
                pipe.srem(conn.key(f"job:{job_id}:blobs"), key)
                await pipe.execute()

    async def delete_job(self, job_id: str, keep: str | None = None) -> None:
        conn = self._conn
        conn._check()
        with conn.errors():
            keys = await conn.client.smembers(conn.key(f"job:{job_id}:blobs"))
        for key in keys:
            if key != keep:
                await self.delete(job_id, key)
