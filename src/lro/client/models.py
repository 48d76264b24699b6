"""The job resource (HTTP-CONTRACT §2) and the other shapes the client hands back.

The models are tolerant readers: unknown fields are kept (`model_extra`), fields a
minimal or older server leaves out default to None, and `status` is a plain string, so a
newer server with more fields or statuses does not break an installed client.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
"""A job in one of these states never changes again (except to expire)."""


class JobErrorInfo(BaseModel):
    """Why a job failed: RFC 9457-shaped, written for the person reading it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = "about:blank"
    title: str = ""
    detail: str = ""
    code: str | None = None
    """Stable machine-readable reason, e.g. `worker_lost`; branch on this, not on text."""
    retryable: bool = False
    """Whether submitting the same job again may succeed."""
    attempts: int | None = None


class JobResource(BaseModel):
    """One job as the server last described it. Immutable: ask the client for a newer one."""

    model_config = ConfigDict(extra="allow", frozen=True)

    job_id: str
    status: str
    """`queued`, `processing`, `completed`, `failed` or `cancelled`."""
    operation: str | None = None
    progress_pct: float = 0.0
    step: str | None = None
    attempt: int = 0
    max_attempts: int | None = None
    cancel_requested: bool = False
    created_at: datetime | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    estimated_duration_seconds: float | None = None
    poll_url: str | None = None
    events_url: str | None = None
    result_url: str | None = None
    result: Any = None
    """The inline JSON result of a completed job; None when the result is a file."""
    error: JobErrorInfo | None = None
    tags: list[str] = Field(default_factory=list)
    """The job's tags (HTTP-CONTRACT §15)."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    batch_id: str | None = None
    """The batch the job was submitted in, if any."""
    depends_on: list[str] = Field(default_factory=list)
    waiting_on: list[str] = Field(default_factory=list)
    """Dependencies not yet ended: the job stays queued while any is left."""
    dependency_policy: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class OperationInfo(BaseModel):
    """One operation of the service with its workload limits (None: unset) and the
    caller's live counts (HTTP-CONTRACT §13, `GET /operations`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    operation: str
    queue: str = "default"
    route: str | None = None
    estimated_duration_seconds: float | None = None
    max_attempts: int | None = None
    timeout_seconds: float | None = None
    concurrency: int | None = None
    key_concurrency: int | None = None
    rate_limit: dict[str, float] | None = None
    """`{"limit": N, "period_seconds": P}`: at most N starts per P seconds."""
    fair: bool = False
    max_queued: int | None = None
    queued: int = 0
    processing: int = 0
    oldest_queued_age_seconds: float | None = None


class WorkerResource(BaseModel):
    """One live worker process, as `GET /workers` lists it (HTTP-CONTRACT §18)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    worker_id: str
    host: str = ""
    pid: int | None = None
    queues: list[str] = []
    operations: list[str] = []
    concurrency: int = 0
    busy: int = 0
    """Slots running a job at its last heartbeat."""
    started_at: datetime | None = None
    last_seen_at: datetime | None = None


@dataclass(frozen=True)
class JobPage:
    """One page of `list()`; pass `next_cursor` back for the next one (None: last page)."""

    items: list[JobResource]
    next_cursor: str | None

    def __iter__(self) -> Iterator[JobResource]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class Partial(BaseModel):
    """One of a job's partial results (a row, a chunk of text, a finished page), in the
    order the handler made them: `seq` counts from 1 per job. `created_at` is known when
    it was read from `/partials` (the event stream carries `seq` and `data` only)."""

    model_config = ConfigDict(extra="allow")

    seq: int
    data: Any = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class JobEvent:
    """One Server-Sent Event of a job: `id` is the job's version (strictly increasing, the
    value to resume from), `event` is `status`, `progress`, `completed`, `failed` or
    `cancelled`, and `job` is the job resource at that version."""

    id: int
    event: str
    job: JobResource


class BatchResource(BaseModel):
    """A batch of jobs submitted together (HTTP-CONTRACT §17): counts per status, overall
    progress and its jobs in request order. Terminal (`completed`) once every job ended,
    whatever each one's outcome: `counts` tells."""

    model_config = ConfigDict(extra="allow", frozen=True)

    batch_id: str
    status: str
    """`queued` (no job started), `processing`, or `completed` (every job ended)."""
    total: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    progress_pct: float = 0.0
    created_at: datetime | None = None
    finished_at: datetime | None = None
    poll_url: str | None = None
    jobs: list[JobResource] = Field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.status == "completed"


class ScheduleResource(BaseModel):
    """A schedule (HTTP-CONTRACT §16): what it submits and when it runs next."""

    model_config = ConfigDict(extra="allow", frozen=True)

    schedule_id: str
    operation: str
    params: dict[str, Any] = Field(default_factory=dict)
    cron: str | None = None
    interval_seconds: float | None = None
    timezone: str = "UTC"
    overlap: str = "skip"
    paused: bool = False
    tags: list[str] = Field(default_factory=list)
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_job_id: str | None = None
    created_at: datetime | None = None
