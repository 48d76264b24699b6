"""`file` results: a local directory (LRO_RESULT_DIR), the v1 store and the default on
SQLite, where every process shares the machine's disk.

    <root>/<job_id>/<attempt>/<filename>          a stored result
    <root>/<job_id>/<attempt>.staging/<filename>  what `ctx.result_path()` hands out

A file written to `ctx.result_path()` becomes the result by one `os.replace` within the
attempt's own directories, so nothing is copied and no other attempt's file is touched.
Deleting a job's results is one `rmtree` of its directory.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import BinaryIO

from lro.models import Lease, ResultRef
from lro.results.base import (
    READ_BYTES,
    File,
    ResultMissing,
    Staging,
    check_job_id,
    content_type_of,
    key_attempt,
    prune_empty,
    result_key,
    safe_name,
)


class FileBody:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def chunks(self, start: int, stop: int) -> AsyncGenerator[bytes, None]:
        try:
            f: BinaryIO = await asyncio.to_thread(self.path.open, "rb")
        except FileNotFoundError:
            raise ResultMissing(f"result file {self.path} is missing") from None
        try:
            await asyncio.to_thread(f.seek, start)
            while start < stop:
                data = await asyncio.to_thread(f.read, min(READ_BYTES, stop - start))
                if not data:
                    raise ResultMissing(f"result file {self.path} is shorter than recorded")
                start += len(data)
                yield data
        finally:
            # Not in a thread: this also runs when the download is cancelled (the client
            # left), and a cancelled task may not get to await anything any more.
            f.close()


class LocalResultStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._staging = Staging(root)
        self.root = self._staging.root

    def _path(self, key: str) -> Path:
        return self.root / key

    def staging_path(self, lease: Lease, filename: str) -> Path:
        return self._staging.path(lease, filename)

    async def put_file(self, lease: Lease, file: File) -> ResultRef:
        return await asyncio.to_thread(self._put_file, lease, file)

    def _put_file(self, lease: Lease, file: File) -> ResultRef:
        src = Path(file.path)
        name = safe_name(file.filename or src.name)
        key = result_key(lease, name)
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if self._staging.holds(lease, src):
            os.replace(src, dest)
        else:
            shutil.copyfile(src, dest)
        return ResultRef(key, content_type_of(file, name), dest.stat().st_size, name)

    async def put_bytes(
        self, lease: Lease, data: bytes, content_type: str, filename: str | None = None
    ) -> ResultRef:
        name = safe_name(filename or "result")
        key = result_key(lease, name)

        def write() -> None:
            dest = self._path(key)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)

        await asyncio.to_thread(write)
        return ResultRef(key, content_type, len(data), name)

    def local_path(self, ref: ResultRef) -> Path:
        """Where the stored object is on disk (refs written by v1, `<job>/result/<name>`,
        resolve here too)."""
        path = self._path(ref.key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"result key {ref.key!r} escapes the result directory")
        return path

    async def open(self, job_id: str, ref: ResultRef) -> FileBody:
        path = self.local_path(ref)
        if not await asyncio.to_thread(path.is_file):
            raise ResultMissing(f"result file {path} is missing")
        return FileBody(path)

    async def end_attempt(self, lease: Lease) -> None:
        await asyncio.to_thread(self._staging.discard, lease)

    async def delete(self, job_id: str, ref: ResultRef) -> None:
        path = self.local_path(ref)

        def remove() -> None:
            path.unlink(missing_ok=True)
            prune_empty(path.parent)
            prune_empty(self._staging.job_dir(job_id))

        await asyncio.to_thread(remove)

    async def delete_job(self, job_id: str, *, keep: ResultRef | None = None) -> None:
        job_dir = self._staging.job_dir(check_job_id(job_id))
        if keep is None:
            await asyncio.to_thread(shutil.rmtree, job_dir, True)
            return
        kept = key_attempt(keep)

        def prune() -> None:
            try:
                entries = list(job_dir.iterdir())
            except FileNotFoundError:
                return
            for entry in entries:
                if entry.name == kept:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

        await asyncio.to_thread(prune)
