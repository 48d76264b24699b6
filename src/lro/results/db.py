"""`db` results: files kept in the job store itself (`store.blobs`), the default on
PostgreSQL, so API and worker processes on machines that share no disk serve every result.

A handler still writes to a local path (`ctx.result_path()`, a staging directory under
LRO_RESULT_DIR on the worker's machine); returning `lro.File` uploads it chunk by chunk,
each chunk its own transaction, so neither the file nor one giant transaction is ever
held in memory. Downloads read a few chunks at a time, starting at the chunk a `Range`
begins in. The blob and its chunks go with their job row (the store's own delete and
sweep), and the key names the attempt that wrote them (lro.results.base).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import BinaryIO

from lro.models import Lease, ResultRef, utcnow
from lro.results.base import (
    File,
    ResultMissing,
    Staging,
    content_type_of,
    result_key,
    safe_name,
)
from lro.store.base import Blobs, Store

CHUNK_BYTES = 512 * 1024
"""Size of each stored chunk: big enough that a 1 GiB file is 2,048 rows, small enough
that a download holds at most a few of them in memory."""

READ_AHEAD = 4
"""Chunks fetched per query while streaming (at most 2 MiB in memory per download)."""


def _gone(job_id: str) -> ResultMissing:
    return ResultMissing(f"job {job_id!r} no longer exists; its result cannot be stored")


class DbBody:
    def __init__(self, blobs: Blobs, job_id: str, key: str, chunk_bytes: int) -> None:
        self._blobs = blobs
        self._job_id = job_id
        self._key = key
        self._chunk = chunk_bytes

    async def chunks(self, start: int, stop: int) -> AsyncGenerator[bytes, None]:
        size = self._chunk
        n, skip = divmod(start, size)
        last = (stop - 1) // size
        pos = start
        while pos < stop:
            count = min(READ_AHEAD, last - n + 1)
            batch = await self._blobs.read_chunks(self._job_id, self._key, n, count)
            # Only chunks inside the blob are asked for, so each must be there: fewer means
            # the blob was deleted meanwhile (a hole would shift every byte after it).
            if len(batch) != count:
                raise ResultMissing(f"result {self._key!r} is gone or shorter than recorded")
            for data in batch:
                piece = data[skip : skip + (stop - pos)]
                skip = 0
                n += 1
                pos += len(piece)
                yield piece
                if pos >= stop:
                    return


class DbResultStore:
    def __init__(
        self,
        store: Store,
        staging_dir: str | os.PathLike[str],
        *,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be positive")
        self._store = store
        self._staging = Staging(staging_dir)
        self.chunk_bytes = chunk_bytes

    @property
    def _blobs(self) -> Blobs:
        return self._store.blobs

    def staging_path(self, lease: Lease, filename: str) -> Path:
        return self._staging.path(lease, filename)

    async def put_file(self, lease: Lease, file: File) -> ResultRef:
        src = Path(file.path)
        name = safe_name(file.filename or src.name)
        key = result_key(lease, name)
        f: BinaryIO = await asyncio.to_thread(src.open, "rb")
        try:
            size = await self._upload(lease.job_id, key, f)
        finally:
            await asyncio.to_thread(f.close)
        return ResultRef(key, content_type_of(file, name), size, name)

    async def put_bytes(
        self, lease: Lease, data: bytes, content_type: str, filename: str | None = None
    ) -> ResultRef:
        name = safe_name(filename or "result")
        key = result_key(lease, name)
        size = await self._upload(lease.job_id, key, data)
        return ResultRef(key, content_type, size, name)

    async def _upload(self, job_id: str, key: str, source: BinaryIO | bytes) -> int:
        """Write `source` as chunks 0, 1, ..., then the finished-blob row. A failure
        part-way removes what was written (best effort: the job's deletion would too)."""
        size = 0
        n = 0
        try:
            while True:
                if isinstance(source, bytes):
                    data = source[size : size + self.chunk_bytes]
                else:
                    data = await asyncio.to_thread(source.read, self.chunk_bytes)
                if not data and n > 0:
                    break
                if not await self._blobs.write_chunk(job_id, key, n, data):
                    raise _gone(job_id)
                size += len(data)
                n += 1
                if len(data) < self.chunk_bytes:
                    break
            if not await self._blobs.finish(job_id, key, size, self.chunk_bytes, utcnow()):
                raise _gone(job_id)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._blobs.delete(job_id, key)
            raise
        return size

    async def open(self, job_id: str, ref: ResultRef) -> DbBody:
        info = await self._blobs.info(job_id, ref.key)
        if info is None:
            raise ResultMissing(f"result {ref.key!r} of job {job_id!r} is not in the database")
        return DbBody(self._blobs, job_id, ref.key, info.chunk_bytes)

    async def end_attempt(self, lease: Lease) -> None:
        await asyncio.to_thread(self._staging.discard, lease)

    async def delete(self, job_id: str, ref: ResultRef) -> None:
        await self._blobs.delete(job_id, ref.key)

    async def delete_job(self, job_id: str, *, keep: ResultRef | None = None) -> None:
        await self._blobs.delete_job(job_id, None if keep is None else keep.key)
