"""Result files (reports, exports, videos): where handlers write them and the API serves them.

The default store is a local directory, one sub-directory per job, so deleting a job's
results is one `rmtree` and two jobs can never collide on a file name.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lro.models import ResultRef


@dataclass(frozen=True, slots=True)
class File:
    """Return this from a handler to make the job's result a file.

    `path` may point anywhere readable; files under the job's `ctx.result_path()` are
    moved into place, others are copied.
    """

    path: str | os.PathLike[str]
    content_type: str | None = None
    filename: str | None = None


class ResultStore(Protocol):
    def staging_path(self, job_id: str, filename: str) -> Path:
        """A path a handler may write its artifact to (parent directory exists)."""
        ...

    async def put_file(self, job_id: str, file: File) -> ResultRef: ...

    async def put_bytes(
        self, job_id: str, data: bytes, content_type: str, filename: str | None = None
    ) -> ResultRef: ...

    def local_path(self, ref: ResultRef) -> Path:
        """Where the artifact can be read (for streaming with Range support)."""
        ...

    async def delete_job(self, job_id: str) -> None:
        """Remove every artifact of the job, staged or stored. Idempotent."""
        ...


class LocalResultStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _job_dir(self, job_id: str) -> Path:
        # job ids are UUIDs chosen by lro, but refuse anything that could escape the root.
        if not job_id or "/" in job_id or "\\" in job_id or job_id in {".", ".."}:
            raise ValueError(f"invalid job id {job_id!r}")
        return self.root / job_id

    def staging_path(self, job_id: str, filename: str) -> Path:
        d = self._job_dir(job_id) / "staging"
        d.mkdir(parents=True, exist_ok=True)
        return d / Path(filename).name

    async def put_file(self, job_id: str, file: File) -> ResultRef:
        return await asyncio.to_thread(self._put_file, job_id, file)

    def _put_file(self, job_id: str, file: File) -> ResultRef:
        src = Path(file.path)
        name = file.filename or src.name
        dest_dir = self._job_dir(job_id) / "result"
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / Path(name).name
        staging = self._job_dir(job_id) / "staging"
        if src.resolve().parent == staging.resolve():
            os.replace(src, dest)
        else:
            shutil.copyfile(src, dest)
        ctype = file.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return ResultRef(
            key=f"{job_id}/result/{dest.name}",
            content_type=ctype,
            size=dest.stat().st_size,
            filename=name,
        )

    async def put_bytes(
        self, job_id: str, data: bytes, content_type: str, filename: str | None = None
    ) -> ResultRef:
        def write() -> ResultRef:
            name = filename or "result"
            dest_dir = self._job_dir(job_id) / "result"
            dest_dir.mkdir(parents=True, exist_ok=True)
            dest = dest_dir / Path(name).name
            dest.write_bytes(data)
            return ResultRef(
                key=f"{job_id}/result/{dest.name}",
                content_type=content_type,
                size=len(data),
                filename=name,
            )

        return await asyncio.to_thread(write)

    def local_path(self, ref: ResultRef) -> Path:
        path = (self.root / ref.key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"result key {ref.key!r} escapes the result directory")
        return path

    async def delete_job(self, job_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._job_dir(job_id), True)
