"""Rows of the PostgreSQL store <-> lro models: records and NOTIFY payloads to Jobs, list
cursors, JSON. Records are read by column name (asyncpg resolves names in C)."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from lro.models import ErrorDetail, Job, ResultRef, Status
from lro.store.types import JobChange, JobEvent

PACKAGE = "lro.store.postgres"
Record = Any  # asyncpg.Record: untyped, kept inside the postgres modules
Conn = Any  # asyncpg.Connection

STATUS = {s.value: s for s in Status}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_epoch(seconds: float) -> datetime:
    """Unix seconds (a float64 is exact to the microsecond for these dates) as UTC."""
    return datetime.fromtimestamp(seconds, UTC)


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def dumps(value: Any) -> str:
    """Compact JSON. One encoder kept for it: `json.dumps` with any argument builds a new
    JSONEncoder per call, which cost as much as the encoding (a params dict per submit)."""
    return _ENCODER.encode(value)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def job_from_record(r: Record) -> Job:
    """Map one `lro_jobs` row (selected as `*`) to a Job."""
    result_ref = r["result_ref"]
    error = r["error"]
    return Job(
        id=r["id"],
        operation=r["operation"],
        status=STATUS[r["status"]],
        params=loads(r["params"]),
        owner=r["owner"],
        priority=r["priority"],
        progress_pct=r["progress_pct"],
        step=r["step"],
        attempt=r["attempt"],
        max_attempts=r["max_attempts"],
        timeout_seconds=r["timeout_seconds"],
        run_at=r["run_at"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        expires_at=r["expires_at"],
        estimated_duration_seconds=r["estimated_duration_seconds"],
        version=r["version"],
        cancel_requested=r["cancel_requested"],
        result=loads(r["result"]),
        result_ref=None if result_ref is None else ResultRef.from_json(json.loads(result_ref)),
        error=None if error is None else ErrorDetail.from_json(json.loads(error)),
        callback_url=r["callback_url"],
        idempotency_key=r["idempotency_key"],
        request_fingerprint=r["request_fingerprint"],
        lease_token=r["lease_token"],
        lease_expires_at=r["lease_expires_at"],
        worker_id=r["worker_id"],
        tags=_tags(loads(r["tags"])),
        metadata=loads(r["metadata"]),
        batch_id=r["batch_id"],
        depends_on=_tags(loads(r["depends_on"])),
        waiting_on=_tags(loads(r["waiting_on"])),
        dependency_policy=r["dependency_policy"],
        trace_context=r["trace_context"],
    )


def _tags(value: Any) -> tuple[str, ...]:
    return () if value is None else tuple(value)


def _ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def job_from_json(d: dict[str, Any]) -> Job:
    """A `lro_jobs` row as `row_to_json` writes it (jsonb columns nested, timestamps ISO):
    the payload of a hand-off notification."""
    result_ref, error = d.get("result_ref"), d.get("error")
    return Job(
        id=d["id"],
        operation=d["operation"],
        status=STATUS[d["status"]],
        params=d["params"],
        owner=d["owner"],
        priority=d["priority"],
        progress_pct=d["progress_pct"],
        step=d["step"],
        attempt=d["attempt"],
        max_attempts=d["max_attempts"],
        timeout_seconds=d["timeout_seconds"],
        run_at=_ts(d["run_at"]),  # type: ignore[arg-type]
        created_at=_ts(d["created_at"]),  # type: ignore[arg-type]
        updated_at=_ts(d["updated_at"]),  # type: ignore[arg-type]
        started_at=_ts(d["started_at"]),
        finished_at=_ts(d["finished_at"]),
        expires_at=_ts(d["expires_at"]),
        estimated_duration_seconds=d["estimated_duration_seconds"],
        version=d["version"],
        cancel_requested=d["cancel_requested"],
        result=d["result"],
        result_ref=None if result_ref is None else ResultRef.from_json(result_ref),
        error=None if error is None else ErrorDetail.from_json(error),
        callback_url=d["callback_url"],
        idempotency_key=d["idempotency_key"],
        request_fingerprint=d["request_fingerprint"],
        lease_token=d["lease_token"],
        lease_expires_at=_ts(d["lease_expires_at"]),
        worker_id=d["worker_id"],
        tags=_tags(d.get("tags")),
        metadata=d.get("metadata"),
        batch_id=d.get("batch_id"),
        depends_on=_tags(d.get("depends_on")),
        waiting_on=_tags(d.get("waiting_on")),
        dependency_policy=d.get("dependency_policy"),
        trace_context=d.get("trace_context"),
    )


def as_accepted(job: Job) -> Job:
    """A job handed to a parked worker at submit is stored as version 1, queued, and
    version 2, processing, in one transaction. The submit's answer is its receipt, so it
    shows version 1, as it would for any job a worker claimed right after its commit
    (`Inserted.accepted`); polling and the event stream show version 2 from then on."""
    if job.version != 2 or job.status is not Status.PROCESSING:
        return job
    return dataclasses.replace(
        job,
        status=Status.QUEUED,
        version=1,
        attempt=0,
        started_at=None,
        lease_token=None,
        lease_expires_at=None,
        worker_id=None,
    )


def event_from_record(r: Record) -> JobEvent:
    """An `events_after` row."""
    return JobEvent(
        r["job_id"],
        r["version"],
        r["kind"],
        STATUS[r["status"]],
        r["progress_pct"],
        r["step"],
        r["attempt"],
        r["at"],
    )


def change_of(job: Job, cancel_requested: bool = False) -> JobChange:
    return JobChange(job.id, job.version, job.status, cancel_requested)


def encode_cursor(job: Job) -> str:
    micros = (job.created_at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{job.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError for anything encode_cursor did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        micros, job_id = raw.split(":", 1)
        if "\x00" in job_id:  # no job id holds one, and PostgreSQL cannot compare it
            raise ValueError("NUL in cursor")
        return _EPOCH + timedelta(microseconds=int(micros)), job_id
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise ValueError(f"malformed cursor {cursor!r}") from exc


def parse_changes(payload: str) -> tuple[str, list[JobChange]]:
    """Split a NOTIFY payload `origin|id version status cancel;...` (see schema.sql,
    lro_notify_events)."""
    origin, _, body = payload.partition("|")
    changes = []
    for line in body.split(";"):
        job_id, version, status, cancel = line.rsplit(" ", 3)
        changes.append(JobChange(job_id, int(version), STATUS[status], cancel == "1"))
    return origin, changes
