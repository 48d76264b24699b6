"""What every result store shares: the `File` a handler returns, the `ResultStore`
protocol, and the naming rule that makes results safe from zombie workers.

The naming rule. Every attempt of a job writes under a name of its own,

    <job_id>/<attempt>/<filename>         (the stored object, `ResultRef.key`)
    <job_id>/<attempt>.staging/<filename> (local scratch space, `ctx.result_path()`)

where `<attempt>` is derived from the attempt's lease token, fresh for every claim. A
worker that lost its lease without noticing (paused, cut off) and goes on writing only
ever writes its own names, and the job's result is the object its *fenced* completion
recorded: the completion of the attempt that still held the lease. So a zombie's bytes
can never become, overwrite or corrupt the result, whichever store holds it, and no
check-then-write race is left to win.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import os
import shutil
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lro.models import Lease, ResultRef

READ_BYTES = 256 * 1024
"""How much of a file is read (or sent) at a time."""


@dataclass(frozen=True, slots=True)
class File:
    """Return this from a handler to make the job's result a file.

    `path` may point anywhere readable; files under the job's `ctx.result_path()` are
    moved into place, others are copied.
    """

    path: str | os.PathLike[str]
    content_type: str | None = None
    filename: str | None = None


class ResultMissing(LookupError):
    """The object a result reference names is not (or no longer) in the result store, or
    the job it belongs to is gone."""


@dataclass(frozen=True, slots=True)
class ResultRedirect:
    """Fetch the result from this URL instead (a short-lived presigned object-store URL)."""

    url: str


class ResultBody(Protocol):
    """A stored result, opened for reading."""

    def chunks(self, start: int, stop: int) -> AsyncGenerator[bytes, None]:
        """Bytes `start .. stop - 1` in order, a piece at a time; raises ResultMissing if
        the object vanished (before the first piece, or part-way)."""
        ...


class ResultStore(Protocol):
    """Where result files live: written by workers, served by the API, deleted with the
    job. Every method that writes takes the attempt's `Lease`, and writes only under that
    attempt's names (see the module docstring)."""

    def staging_path(self, lease: Lease, filename: str) -> Path:
        """A local path, unique to the attempt, a handler may write its artifact to
        (parent directory exists)."""
        ...

    async def put_file(self, lease: Lease, file: File) -> ResultRef:
        """Store the file as the attempt's result object and return its reference."""
        ...

    async def put_bytes(
        self, lease: Lease, data: bytes, content_type: str, filename: str | None = None
    ) -> ResultRef: ...

    async def open(self, job_id: str, ref: ResultRef) -> ResultBody | ResultRedirect:
        """The stored object for reading, or where to fetch it. Raises ResultMissing."""
        ...

    async def end_attempt(self, lease: Lease) -> None:
        """Drop the attempt's local staging files (whatever its outcome). Idempotent."""
        ...

    async def delete(self, job_id: str, ref: ResultRef) -> None:
        """Remove one stored object (an attempt whose completion was refused). Idempotent."""
        ...

    async def delete_job(self, job_id: str, *, keep: ResultRef | None = None) -> None:
        """Remove every object of every attempt of the job, staged or stored, except
        `keep` (the result a completion recorded). Idempotent."""
        ...


# -- names ------------------------------------------------------------------------------------
def attempt_id(lease: Lease) -> str:
    """The attempt's part of its names: a digest of its lease token, so every claim gets
    fresh names without the token itself (a write credential) appearing in paths."""
    if not lease.token:
        raise ValueError(f"job {lease.job_id!r}: a result needs a claimed attempt's lease")
    return hashlib.sha256(lease.token.encode()).hexdigest()[:32]


def check_job_id(job_id: str) -> str:
    # Job ids are UUIDs chosen by lro, but refuse anything that could escape a directory
    # or an object prefix.
    if not job_id or "/" in job_id or "\\" in job_id or job_id in {".", ".."}:
        raise ValueError(f"invalid job id {job_id!r}")
    return job_id


def safe_name(filename: str) -> str:
    """The last path component of `filename`, never empty, `.` or `..`."""
    name = Path(filename.replace("\\", "/")).name
    return "result" if name in {"", ".", ".."} else name


def result_key(lease: Lease, filename: str) -> str:
    return f"{check_job_id(lease.job_id)}/{attempt_id(lease)}/{safe_name(filename)}"


def key_attempt(ref: ResultRef) -> str:
    """The attempt part of a stored object's key (`<job_id>/<attempt>/<name>`)."""
    parts = ref.key.split("/")
    return parts[1] if len(parts) == 3 else ""


def content_type_of(file: File, name: str) -> str:
    return file.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"


# -- local staging ------------------------------------------------------------------------
class Staging:
    """Local scratch directories, one per attempt, under `root/<job_id>/`. The `db` and
    `s3` stores stage here before uploading; the `file` store stages beside its objects."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def job_dir(self, job_id: str) -> Path:
        return self.root / check_job_id(job_id)

    def dir(self, lease: Lease) -> Path:
        return self.job_dir(lease.job_id) / f"{attempt_id(lease)}.staging"

    def path(self, lease: Lease, filename: str) -> Path:
        d = self.dir(lease)
        try:
            d.mkdir(parents=True, exist_ok=True)
        except FileNotFoundError:
            # Another attempt's clean-up removed the (empty) job directory between the two
            # mkdirs `parents=True` makes: once more finds it gone and makes both.
            d.mkdir(parents=True, exist_ok=True)
        return d / safe_name(filename)

    def holds(self, lease: Lease, path: Path) -> bool:
        """True when `path` is a file in this attempt's staging directory."""
        return path.resolve().parent == self.dir(lease)

    def discard(self, lease: Lease) -> None:
        shutil.rmtree(self.dir(lease), ignore_errors=True)
        prune_empty(self.job_dir(lease.job_id))


def prune_empty(directory: Path) -> None:
    """Remove `directory` if it is empty (so finished jobs leave no empty directories)."""
    with contextlib.suppress(OSError):
        directory.rmdir()
