"""The long-jobs part of a store (HTTP-CONTRACT §14): durable steps, one checkpoint per
job, partial results, and the retry (redrive) of an ended job.

A job of hours must not start again from zero when its worker dies at 90 %: what an
attempt has finished is kept beside the job, and the next attempt of the same job reads
it back. Every write made for a running attempt is fenced by its lease token, like every
other worker write (`lro.store.base`): only a `processing` job whose current token is
the lease's is written, so a zombie attempt can neither record a step, move the
checkpoint nor add a partial. Everything here goes with its job: `Store.delete_job` and
`Store.sweep` remove a job's steps, checkpoint and partials in the same transaction.

Every bundled backend has it (SQLite, PostgreSQL, Redis). A store without this capability
has `steps = None`; the API answers `501` and the handler's context raises
`LongJobsUnsupported`.

Rows, per job:

* a step `(job_id, name) -> ord, status, attempt, result, started_at, finished_at`:
  `ord` is the order it was first started (1-based), `status` is `running`,
  `completed` or `failed`, `attempt` the attempt that last ran it, `result` its JSON
  return value once completed;
* one checkpoint `(job_id) -> value, attempt, updated_at` (the latest wins);
* partials `(job_id, seq) -> version, data, created_at`: `seq` 1-based per job in the
  order made, `version` the job version (and event id) the partial was written at.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from lro.models import Job, Lease, Status

JSON = Any

STEP_STATUSES = ("running", "completed", "failed")


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step of a job, as stored (the items of `GET /jobs/{id}/steps`)."""

    name: str
    status: str
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    result: JSON = None


@dataclass(frozen=True, slots=True)
class Resume:
    """What an attempt starts from: the checkpoint an earlier attempt stored (`found`
    False when none) and the results of the steps earlier attempts completed."""

    found: bool = False
    checkpoint: JSON = None
    completed: dict[str, JSON] = field(default_factory=dict)
    partial_bytes: int = 0
    """The length of the JSON text of the job's partials so far (for the size limit)."""


@dataclass(frozen=True, slots=True)
class CheckpointWrite:
    lease: Lease
    value: JSON


@dataclass(frozen=True, slots=True)
class PartialWrite:
    """An attempt's partials, in the order it made them."""

    lease: Lease
    values: Sequence[JSON]


@dataclass(frozen=True, slots=True)
class Partial:
    seq: int
    version: int
    data: JSON
    created_at: datetime


class RetryOutcome(enum.StrEnum):
    RETRIED = "retried"
    """The job was failed or cancelled; it is queued again under the same id."""
    CONFLICT = "conflict"
    """The job is queued, processing or completed: nothing changed (409)."""


RETRYABLE: frozenset[Status] = frozenset({Status.FAILED, Status.CANCELLED})


@dataclass(frozen=True, slots=True)
class RetryResult:
    job: Job
    """The job after the call (unchanged on CONFLICT)."""
    outcome: RetryOutcome


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs a bulk action takes (`POST /jobs/bulk/...`), beside the owner scope."""

    owner: str | None
    """Whose jobs; None: every owner's (an admin's bulk action)."""
    statuses: Sequence[Status] = ()
    operation: str | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    tag: str | None = None
    """Only jobs carrying this tag (HTTP-CONTRACT §15); a store without flows never gets one."""
    exclude: str | None = None
    """A job id left out: the bulk job itself."""


class Steps(Protocol):
    """The long-jobs verbs. Each is one transaction; callers pass `now`."""

    async def resume(self, job_id: str) -> Resume:
        """The job's checkpoint and completed step results. Writes nothing."""

    async def list_steps(self, job_id: str) -> list[StepRecord]:
        """The job's steps in the order first started. Writes nothing."""

    async def start_step(self, lease: Lease, name: str, now: datetime) -> bool:
        """Fenced; False (nothing written) where the lease is not held.

        Writes the step row `(job_id, name)`: a new one with `ord = max + 1`, or an
        existing `running`/`failed` one (its `ord` kept): status `running`, `attempt` =
        the job's attempt, `started_at = now`, `finished_at` and `result` NULL. A
        `completed` step is never changed (True is still answered)."""

    async def finish_step(self, lease: Lease, name: str, result: JSON, now: datetime) -> bool:
        """Fenced. Writes the step: status `completed`, `result`, `attempt` = the job's
        attempt, `finished_at = now` (a step never started is inserted completed, with
        `started_at = now`). A step already completed keeps its first result."""

    async def fail_step(self, lease: Lease, name: str, now: datetime) -> bool:
        """Fenced. Writes a `running` step: status `failed`, `attempt`, `finished_at`."""

    async def set_checkpoints(self, writes: Sequence[CheckpointWrite], now: datetime) -> list[bool]:
        """Fenced, per write. Upserts the checkpoint row `(job_id) -> value, attempt,
        updated_at = now`; of several writes for one job in a batch the last wins. No
        version, no event (nobody follows checkpoints)."""

    async def append_partials(self, writes: Sequence[PartialWrite], now: datetime) -> list[bool]:
        """Fenced, per write. Per value, in order: the job's version + 1 and
        `updated_at = now`, its event (kind `partial`, the job's status, progress, step
        and attempt), and a partial row `(job_id, seq = max + 1, version, data,
        created_at = now)`; a listener change per job with its last version."""

    async def partials(self, job_id: str, after: int, limit: int) -> list[Partial]:
        """The job's partials with seq > after, oldest first. Writes nothing."""

    async def partials_at(self, job_id: str, versions: Sequence[int]) -> list[Partial]:
        """The job's partials written at these versions (event ids). Writes nothing."""

    async def retry_job(self, job_id: str, now: datetime) -> RetryResult | None:
        """Run a `failed` or `cancelled` job again under its id; None: no such job.

        Writes (RETRIED): status `queued`, `run_at = updated_at = now`, `error`,
        `result`, `result_ref`, `finished_at`, `expires_at` NULL, `cancel_requested`
        false, progress 0, step NULL, `max_attempts = max(max_attempts, attempt + 1)`,
        version + 1; event (`status`); a listener change. Steps, checkpoint and partials
        stay. Its next terminal state writes a delivery again (the usual trigger).
        Any other status: CONFLICT, nothing written."""

    async def select_jobs(self, where: JobFilter, now: datetime, limit: int) -> list[str]:
        """Ids of the jobs unexpired at `now` that fit the filter, oldest first (created_at, id),
        at most `limit`. Writes nothing."""
