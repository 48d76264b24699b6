"""The values the store's verbs take and give back, beside the job types of `lro.models`.

Backend-independent and pure: a backend package builds these from its rows, and callers
(the worker, the API, the maintenance services) read them without knowing the backend.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lro.limits import Limits
from lro.models import Job, NewJob, Status
from lro.retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class JobChange:
    """A committed change of one job, as delivered to listeners."""

    job_id: str
    version: int
    status: Status
    cancel_requested: bool = False
    """True when this change requested cancellation of a processing job, so a worker can
    react to just these notifications without querying on every change."""


Listener = Callable[[JobChange], None]


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One row of a job's event history (feeds SSE resumption)."""

    job_id: str
    version: int
    kind: str
    status: Status
    progress_pct: float
    step: str | None
    attempt: int
    at: datetime


@dataclass(frozen=True, slots=True)
class JobCount:
    """How many unexpired jobs of one operation are in one status (feeds GET /stats)."""

    operation: str
    status: Status
    count: int


@dataclass(frozen=True, slots=True)
class ClaimParams:
    worker_id: str
    limit: int
    lease_seconds: float
    now: datetime
    operations: Sequence[str] | None = None
    """Only claim these operations (the ones the worker can run); None means any."""


@dataclass(frozen=True, slots=True)
class LimitedOperation:
    """One limited operation a worker claims for, with the limits it declares (lro.limits):
    what `Workload.claim_limited` enforces. None: that limit is unset."""

    operation: str
    concurrency: int | None = None
    key_concurrency: int | None = None
    rate_limit: int | None = None
    rate_period_seconds: float | None = None
    fair: bool = False

    @classmethod
    def declared(cls, operation: str, limits: Limits) -> LimitedOperation:
        """What `limits` (an operation's declaration) asks of the claim."""
        rate = limits.rate_limit
        return cls(
            operation=operation,
            concurrency=limits.concurrency,
            key_concurrency=limits.key_concurrency,
            rate_limit=None if rate is None else rate[0],
            rate_period_seconds=None if rate is None else float(rate[1]),
            fair=limits.fair,
        )


@dataclass(frozen=True, slots=True)
class LimitUsage:
    """One limited operation's slots and held-back jobs now (`Workload.usage`; the
    `lro_operation_slots_in_use` and `lro_jobs_held_back` metrics). Each due, queued job
    the claim would not give out now is counted once, by the first limit that holds it,
    in the order the claim applies them: its key's `key_concurrency`, then the
    operation's `concurrency`, then its `rate_limit` window (`rules.held_back`)."""

    operation: str
    slots_in_use: int
    """The operation's keyed jobs `processing`: what its `concurrency` counts."""
    held_key: int = 0
    held_concurrency: int = 0
    held_rate: int = 0


@dataclass(frozen=True, slots=True)
class RescueParams:
    now: datetime
    retention_seconds: float
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(base_seconds=0))
    """When a lost run's job may start again: the same policy (per-operation backoff)
    the worker applies to a failed attempt. The default retries at once (tests)."""
    limit: int = 500


@dataclass(frozen=True, slots=True)
class SweepParams:
    now: datetime
    batch_size: int
    tombstone_seconds: float


class CancelOutcome(enum.StrEnum):
    """What `Store.request_cancel` did."""

    CANCELLED = "cancelled"
    """The job was queued: it is cancelled now."""
    REQUESTED = "requested"
    """The job is processing: its cancel is requested (now or earlier), and it ends
    `cancelled` when its worker notices."""
    FINISHED = "finished"
    """The job had already ended (completed, failed or cancelled): nothing changed."""


@dataclass(frozen=True, slots=True)
class CancelResult:
    job: Job
    """The job after the call (unchanged when FINISHED)."""
    outcome: CancelOutcome


@dataclass(frozen=True, slots=True)
class DeleteResult:
    job: Job
    """The job as it was before the call."""
    deleted: bool
    """False: the job is still queued or processing, and nothing was deleted."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker process as it last told the registry (`parts.Workers`)."""

    worker_id: str
    host: str
    pid: int
    queues: tuple[str, ...]
    operations: tuple[str, ...]
    concurrency: int
    busy: int
    """Slots running a job at the last heartbeat."""
    started_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A finished result blob (see `Blobs`): its length and the chunk size it was cut in."""

    size: int
    chunk_bytes: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HandoffSubscription:
    """A worker's hooks for hand-offs: `on_job` gets a job leased to it by a submit (or the
    job's id, when the row was too big to send along); `on_reconnect` runs when the
    store's notification session came back, since a hand-off may have been lost with it."""

    on_job: Callable[[Job | str], None]
    on_reconnect: Callable[[], None]


@dataclass(frozen=True, slots=True)
class NewBatch:
    """Jobs to insert together, all or none (`Batches.insert_batch`). Each job's
    `batch_id` must be `id`; their own idempotency fields are unused (the batch's key
    covers them all)."""

    id: str
    owner: str
    jobs: Sequence[NewJob]
    callback_url: str | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    idempotency_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch as stored, with its jobs counted (HTTP-CONTRACT §17)."""

    id: str
    owner: str
    total: int
    unfinished: int
    """Jobs not yet terminal; 0 means the batch is complete."""
    callback_url: str | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    counts: dict[Status, int]
    """Its jobs per status (statuses with none left out)."""
    progress_pct: float
    """The mean progress of its jobs, a terminal one counting 100."""
    started: bool
    """Whether any of its jobs has left `queued` or run (an attempt)."""
    estimate_seconds: float | None = None
    """The longest estimated duration among its jobs."""

    @property
    def status(self) -> Status:
        """`completed` once every job is terminal, `queued` until one starts."""
        if self.unfinished == 0:
            return Status.COMPLETED
        return Status.PROCESSING if self.started else Status.QUEUED


@dataclass(frozen=True, slots=True)
class BatchQuery:
    """A page of `Batches.list_batches`: whose batches, how many, after which cursor."""

    owner: str | None
    """None: every owner's (an admin's view)."""
    limit: int = 50
    cursor: str | None = None
    """The `next_cursor` of the previous page (opaque; ValueError when malformed)."""


@dataclass(frozen=True, slots=True)
class BatchPage:
    items: list[Batch]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class BatchInserted:
    """Outcome of `insert_batch`: the batch under its id or its idempotency key, its jobs
    in request order, and whether this call created it (False: a replay)."""

    batch: Batch
    jobs: list[Job]
    created: bool


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule as stored (HTTP-CONTRACT §16): what to submit, when, and its last
    firing. Keyed by (owner, id): schedule ids are per principal, like jobs."""

    id: str
    owner: str
    operation: str
    params: Any
    cron: str | None
    interval_seconds: float | None
    timezone: str
    overlap: str
    """`skip`: no job while the previous one is unfinished; `allow`: always one."""
    paused: bool
    tags: tuple[str, ...]
    callback_url: str | None
    next_run_at: datetime
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None = None
    last_job_id: str | None = None


@dataclass(frozen=True, slots=True)
class Firing:
    """The outcome of `Schedules.fire`: whether this call fired the due time (False: it
    was fired already, or the schedule changed or went), and the job it made (None when
    `overlap: skip` held it back)."""

    fired: bool
    job: Job | None = None
