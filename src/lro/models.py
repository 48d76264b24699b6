"""Pure types shared by every layer: a job, its status machine, its error, its result.

Nothing here imports the rest of lro, so the store, the worker, the API and the client can
all depend on these without dragging each other in.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, dataclass_transform

JSON = Any
"""A JSON-compatible value (dict, list, str, int, float, bool, None)."""


_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def record(cls: type[_T]) -> type[_T]:
    """A frozen dataclass to the type checker (assigning a field is an error) that is a
    plain slots dataclass at run time. A frozen dataclass's `__init__` sets each field
    through `object.__setattr__`: 3.0 us for the 36 fields of a Job against 0.3 us for
    plain assignment (measured), and every claim, completion and poll builds Jobs. Nothing
    hashes a Job (its params are a dict) or relies on FrozenInstanceError at run time."""
    return dataclass(slots=True)(cls)


_correction = timedelta(0)

CLOCK_TOLERANCE = timedelta(seconds=1)
"""A gap between this process's clock and the job store's smaller than this is left
alone: leases last seconds, and a measured gap of a few milliseconds is noise."""


def utcnow() -> datetime:
    """Now, by the job store's clock: this process's clock, corrected by how far it is
    from the database server's (`correct_clock`). Leases and expiry are compared across
    processes, so they must mean one time: a worker whose clock ran minutes ahead would
    otherwise take live workers' jobs as lost, and one behind would set leases that look
    expired to everyone else the moment they are written."""
    return datetime.now(UTC) + _correction


def clock_correction() -> timedelta:
    """What `utcnow()` adds to this process's clock now."""
    return _correction


def correct_clock(server_minus_local: timedelta) -> timedelta:
    """Make `utcnow()` follow a store whose clock is `server_minus_local` ahead of this
    process's (behind when negative). Gaps within CLOCK_TOLERANCE count as none, so the
    clock never jumps for noise. Returns the correction now in force."""
    global _correction
    gap = server_minus_local if abs(server_minus_local) >= CLOCK_TOLERANCE else timedelta(0)
    _correction = gap
    return gap


class Status(enum.StrEnum):
    """The job state machine; the comment on each member says who moves a job out of it."""

    QUEUED = "queued"
    """Waiting for `run_at`. Left by a worker's claim, or a cancel (-> cancelled)."""
    PROCESSING = "processing"
    """Leased by a worker. Left by that worker (complete / fail / retry / cancelled /
    release on shutdown) or by the rescuer when the lease expires."""
    COMPLETED = "completed"
    """Terminal. Left only by deletion (user or retention sweeper)."""
    FAILED = "failed"
    """Terminal. Left only by deletion."""
    CANCELLED = "cancelled"
    """Terminal. Left only by deletion."""


TERMINAL: frozenset[Status] = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})

WAITING_RUN_AT = datetime(9999, 1, 1, tzinfo=UTC)
"""The `run_at` of a job waiting on dependencies: not due, so no claim takes it, until
the ending of its last dependency sets `run_at` to that moment."""
ACTIVE: frozenset[Status] = frozenset({Status.QUEUED, Status.PROCESSING})


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """An RFC 9457-shaped description of why a job failed, meant for the client to act on."""

    type: str
    title: str
    detail: str
    code: str
    retryable: bool
    attempts: int

    def to_json(self) -> dict[str, JSON]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, JSON]) -> ErrorDetail:
        return cls(
            type=str(data["type"]),
            title=str(data["title"]),
            detail=str(data["detail"]),
            code=str(data["code"]),
            retryable=bool(data["retryable"]),
            attempts=int(data["attempts"]),
        )


@dataclass(frozen=True, slots=True)
class ResultRef:
    """Where a job's artifact lives in the result store, and how to serve it."""

    key: str
    content_type: str
    size: int
    filename: str | None = None

    def to_json(self) -> dict[str, JSON]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, JSON]) -> ResultRef:
        return cls(
            key=str(data["key"]),
            content_type=str(data["content_type"]),
            size=int(data["size"]),
            filename=None if data.get("filename") is None else str(data["filename"]),
        )


@record
class Job:
    """One job, exactly as one row of the store holds it.

    `version` increases by one with every committed change of the row; it is the job's
    event sequence (SSE ids), the basis of its ETag, and what long polls wait on.
    """

    id: str
    operation: str
    status: Status
    params: JSON
    owner: str
    priority: int
    progress_pct: float
    step: str | None
    attempt: int
    max_attempts: int
    timeout_seconds: float | None
    run_at: datetime
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    estimated_duration_seconds: float | None
    version: int
    cancel_requested: bool = False
    result: JSON = None
    result_ref: ResultRef | None = None
    error: ErrorDetail | None = None
    callback_url: str | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    lease_token: str | None = None
    lease_expires_at: datetime | None = None
    worker_id: str | None = None
    tags: tuple[str, ...] = ()
    """Labels the submit gave (HTTP-CONTRACT §15), in its order; listed by `tag=`."""
    metadata: JSON = None
    """The submit's `metadata` object (None when it gave none); never part of params."""
    batch_id: str | None = None
    """The batch it was submitted in (`POST /batches`), if any."""
    depends_on: tuple[str, ...] = ()
    """Jobs that must end before this one runs (HTTP-CONTRACT §17)."""
    waiting_on: tuple[str, ...] = ()
    """Those of `depends_on` that have not ended yet; the job stays queued while any is."""
    dependency_policy: str | None = None
    """`always`: run even when a dependency failed or was cancelled."""
    trace_context: str | None = None
    """The submit's W3C trace context (`lro.tracing`), a JSON object with its
    `traceparent` (and `tracestate`); None when tracing was off. The job's spans join it."""

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class NewJob:
    """Everything needed to insert one job; ids and timestamps are chosen by the caller so
    the same values can be replayed and compared."""

    id: str
    operation: str
    params: JSON
    owner: str = ""
    priority: int = 0
    max_attempts: int = 3
    timeout_seconds: float | None = None
    run_at: datetime | None = None
    estimated_duration_seconds: float | None = None
    callback_url: str | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    idempotency_expires_at: datetime | None = None
    callback_progress: bool = False
    """Also send a (coalesced) `job.progress` webhook while the job runs."""
    queue: str = "default"
    concurrency_key: str | None = None
    """Set for an operation whose limits the claim enforces (`lro.limits`): such a job is
    claimed only by `Store.workload.claim_limited`, never by `claim_jobs`."""
    tags: tuple[str, ...] = ()
    metadata: JSON = None
    batch_id: str | None = None
    depends_on: tuple[str, ...] = ()
    """Ids of existing jobs (or of jobs earlier in the same insert); see `Job`."""
    dependency_policy: str | None = None
    trace_context: str | None = None
    """See `Job.trace_context`."""


@dataclass(frozen=True, slots=True)
class Inserted:
    """Outcome of inserting one NewJob: the job now stored under its id or its idempotency
    key, and whether this call created it (False: an earlier job owns the key)."""

    job: Job
    created: bool
    accepted: Job
    """What the submit's answer shows: `job` itself, except for a job handed to a parked
    worker at submit (PostgreSQL), which is stored as version 2 `processing` and was
    accepted as version 1 `queued` (the state a claim a moment later would start from)."""


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What stays of an expired job after the sweeper deleted it, so it can answer 410."""

    job_id: str
    owner: str
    expired_at: datetime


@dataclass(frozen=True, slots=True)
class ListQuery:
    owner: str | None = ""
    """Whose jobs; None lists every owner's (an admin's view)."""
    statuses: Sequence[Status] = ()
    operation: str | None = None
    limit: int = 50
    cursor: str | None = None
    tags: Sequence[str] = ()
    """Only jobs carrying every one of these tags."""
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str | None = None
    """A job id prefix, or a substring of the step text or the error title (any case)."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Job]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's claim on one attempt of a job; every write of that attempt names it."""

    job_id: str
    token: str


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    lease: Lease
    progress_pct: float
    step: str | None


@dataclass(frozen=True, slots=True)
class Completion:
    lease: Lease
    result: JSON = None
    result_ref: ResultRef | None = None
    step: str | None = None
    """The attempt's last step text when it was not written yet (progress is coalesced);
    None keeps the stored step."""


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed attempt. With `retry_at` the job goes back to the queue; without, it ends
    `failed` with `error`."""

    lease: Lease
    error: ErrorDetail
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    """Per leased job: still ours (`alive`), and whether a cancel was requested."""

    job_id: str
    alive: bool
    cancel_requested: bool


@dataclass(frozen=True, slots=True)
class Swept:
    """What one retention pass removed, so the caller can delete the result files."""

    job_ids: list[str]
    result_refs: list[ResultRef] = field(default_factory=list)
