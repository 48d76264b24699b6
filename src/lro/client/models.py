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

from pydantic import BaseModel, ConfigDict

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

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


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


@dataclass(frozen=True)
class JobEvent:
    """One Server-Sent Event of a job: `id` is the job's version (strictly increasing, the
    value to resume from), `event` is `status`, `progress`, `completed`, `failed` or
    `cancelled`, and `job` is the job resource at that version."""

    id: int
    event: str
    job: JobResource
