"""The job resource (HTTP-CONTRACT §2) as plain JSON data.

One function renders a stored `Job` for clients, so the poll answer, the 202 body, SSE
events and webhook payloads can never disagree about a field. It is free of FastAPI on
purpose: the event stream and the webhook dispatcher reuse it outside any request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lro.models import Job, Status

if TYPE_CHECKING:
    from lro.store.types import Batch


def rfc3339(value: datetime | None) -> str | None:
    """UTC with a `Z` suffix; a naive datetime is taken to be UTC already (the stores
    write UTC), so no timestamp ever leaves the server without an offset."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # the stores' own are UTC already: no conversion
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def job_url(prefix: str, job_id: str) -> str:
    return f"{prefix}/jobs/{job_id}"


def job_resource(job: Job, prefix: str) -> dict[str, Any]:
    """The contract's job resource, plus the links a client needs (`poll_url`,
    `events_url`) so the same object also serves as the 202 body.

    `result_url` is set iff the job completed; `result` carries the inline JSON value only
    when the result is not an artifact; `error` is set iff the job failed. Keys are always
    present (null when absent) so clients can rely on one shape.
    """
    url = job_url(prefix, job.id)
    completed = job.status is Status.COMPLETED
    return {
        "job_id": job.id,
        "operation": job.operation,
        "status": job.status.value,
        "progress_pct": 100 if completed else _number(job.progress_pct),
        "step": job.step,
        "attempt": job.attempt,
        "max_attempts": job.max_attempts,
        "cancel_requested": job.cancel_requested,
        "created_at": rfc3339(job.created_at),
        "started_at": rfc3339(job.started_at),
        "updated_at": rfc3339(job.updated_at),
        "finished_at": rfc3339(job.finished_at),
        "expires_at": rfc3339(job.expires_at) if job.is_terminal else None,
        "estimated_duration_seconds": _number(job.estimated_duration_seconds),
        "poll_url": url,
        "events_url": f"{url}/events",
        "result_url": f"{url}/result" if completed else None,
        "result": job.result if completed and job.result_ref is None else None,
        "error": (
            job.error.to_json() if job.status is Status.FAILED and job.error is not None else None
        ),
        "tags": list(job.tags),
        "metadata": job.metadata if job.metadata is not None else {},
        "batch_id": job.batch_id,
        "depends_on": list(job.depends_on),
        "waiting_on": list(job.waiting_on) if job.status is Status.QUEUED else [],
        "dependency_policy": job.dependency_policy,
    }


def _number(value: float | None) -> float | int | None:
    """Whole numbers as integers (`120`, not `120.0`): what people write and expect."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def batch_url(prefix: str, batch_id: str) -> str:
    return f"{prefix}/batches/{batch_id}"


def batch_resource(batch: Batch, jobs: Sequence[Job], prefix: str) -> dict[str, Any]:
    """The batch resource (HTTP-CONTRACT §17): its status, every status counted (zeros
    included, so clients need no defaults), overall progress and its jobs in request
    order. Also the `data` of its `batch.completed` webhook."""
    return {
        "batch_id": batch.id,
        "status": batch.status.value,
        "total": batch.total,
        "counts": {s.value: batch.counts.get(s, 0) for s in Status},
        "progress_pct": _number(batch.progress_pct),
        "created_at": rfc3339(batch.created_at),
        "finished_at": rfc3339(batch.finished_at),
        "expires_at": rfc3339(batch.expires_at),
        "poll_url": batch_url(prefix, batch.id),
        "jobs": [job_resource(job, prefix) for job in jobs],
    }
