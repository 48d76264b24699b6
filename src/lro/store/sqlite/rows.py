"""Rows of the SQLite store <-> lro models: times, JSON columns, list cursors.

Times are stored as integer microseconds since the Unix epoch: exact (a `now` passed in
comes back equal) and compared as plain integers in SQL.

Rows are read by column name. The connections return `sqlite3.Row`s, whose lookup by
name scans the columns: fine for a few columns, but it doubles the cost of decoding a
31-column job (measured: +5 us per job; on a claim of 100, +20%). So job queries fetch
plain tuples (`job_rows`, `job_row`), and `job_from_row` makes each a `JobRow`, a named
tuple whose fields are the `job_columns` block of sql/rows.sql, read at import: named
access at tuple speed (+0.3 us per job over positions), and the SQL block is the one list
of the columns (no positions to keep in step).
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import functools
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from lro.deliveries import target_of
from lro.models import JSON, ErrorDetail, Job, NewJob, ResultRef, Status
from lro.store.sql import load_queries
from lro.store.types import JobChange, JobEvent

PACKAGE = "lro.store.sqlite"
Row = Any  # sqlite3.Row: untyped, like every driver's rows

JOB_COLUMNS: tuple[str, ...] = tuple(
    c.strip() for c in load_queries(PACKAGE, "rows.sql")["job_columns"].split(",")
)
_namedtuple: Any = collections.namedtuple  # fields from the SQL: mypy cannot see them
JobRow: Any = _namedtuple("JobRow", JOB_COLUMNS)
"""A job row with its columns as attributes: `JobRow._make(row)`."""

# job_from_row builds Job positionally (a keyword call costs 1.1 us more per job, 40% of
# building it), so a reordering of Job's fields must fail here instead of mis-mapping;
# and every field must be a column, so a new one cannot be forgotten in the SQL.
_JOB_FIELDS = [
    "id",
    "operation",
    "status",
    "params",
    "owner",
    "priority",
    "progress_pct",
    "step",
    "attempt",
    "max_attempts",
    "timeout_seconds",
    "run_at",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "expires_at",
    "estimated_duration_seconds",
    "version",
    "cancel_requested",
    "result",
    "result_ref",
    "error",
    "callback_url",
    "idempotency_key",
    "request_fingerprint",
    "lease_token",
    "lease_expires_at",
    "worker_id",
    "tags",
    "metadata",
    "batch_id",
    "depends_on",
    "waiting_on",
    "dependency_policy",
    "trace_context",
]
if [f.name for f in dataclasses.fields(Job)] != _JOB_FIELDS:  # pragma: no cover
    raise ImportError("lro.models.Job fields changed: update lro.store.sqlite.rows")
if not set(_JOB_FIELDS) <= set(JOB_COLUMNS):  # pragma: no cover
    raise ImportError("a Job field is missing from job_columns in lro/store/sqlite/sql/rows.sql")

STATUS: dict[str, Status] = {s.value: s for s in Status}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def to_us(dt: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch."""
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: the store needs timezone-aware times")
    return (dt - _EPOCH) // _ONE_US


@functools.lru_cache(maxsize=4096)
def from_us(us: int) -> datetime:
    """Cached: a batch shares most of its timestamps (`now`, the insert time), and a
    datetime is immutable. Exact: microseconds / 1e6 is within 0.12 us of the true
    instant for any date before 2100, so fromtimestamp rounds back to the same value."""
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def opt_time(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def seconds_to_us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def to_json(value: JSON) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def result_ref_from_json(text: str) -> ResultRef:
    return ResultRef.from_json(json.loads(text))


def job_rows(cursor: sqlite3.Cursor) -> list[Row]:
    """The rows of an executed job query, as plain tuples (see the module docstring)."""
    cursor.row_factory = None
    return cursor.fetchall()


def job_row(cursor: sqlite3.Cursor) -> Row | None:
    """The first row of an executed job query, as a plain tuple."""
    cursor.row_factory = None
    return cursor.fetchone()


def job_from_row(row: Row) -> Job:
    """A Job from a `job_columns` row; runs for every job of every batch, so it is flat."""
    r = JobRow._make(row)
    started, finished, expires = r.started_at, r.finished_at, r.expires_at
    result, result_ref, error, lease_until = r.result, r.result_ref, r.error, r.lease_expires_at
    return Job(
        r.id,
        r.operation,
        STATUS[r.status],
        json.loads(r.params),
        r.owner,
        r.priority,
        r.progress_pct,
        r.step,
        r.attempt,
        r.max_attempts,
        r.timeout_seconds,
        from_us(r.run_at),
        from_us(r.created_at),
        from_us(r.updated_at),
        None if started is None else from_us(started),
        None if finished is None else from_us(finished),
        None if expires is None else from_us(expires),
        r.estimated_duration_seconds,
        r.version,
        r.cancel_requested == 1,
        None if result is None else json.loads(result),
        None if result_ref is None else result_ref_from_json(result_ref),
        None if error is None else ErrorDetail.from_json(json.loads(error)),
        r.callback_url,
        r.idempotency_key,
        r.request_fingerprint,
        r.lease_token,
        None if lease_until is None else from_us(lease_until),
        r.worker_id,
        () if r.tags is None else tuple(json.loads(r.tags)),
        None if r.metadata is None else json.loads(r.metadata),
        r.batch_id,
        () if r.depends_on is None else tuple(json.loads(r.depends_on)),
        () if r.waiting_on is None else tuple(json.loads(r.waiting_on)),
        r.dependency_policy,
        r.trace_context,
    )


def new_job_params(new: NewJob, now_us: int) -> tuple[dict[str, Any], Job]:
    """The `insert_job` parameters for a NewJob, and the Job that insert stores (built
    here rather than read back: one statement per job instead of two)."""
    params = to_json(new.params)
    run_at_us = now_us if new.run_at is None else to_us(new.run_at)
    key_until = None if new.idempotency_expires_at is None else to_us(new.idempotency_expires_at)
    timeout = None if new.timeout_seconds is None else float(new.timeout_seconds)
    estimate = (
        None if new.estimated_duration_seconds is None else float(new.estimated_duration_seconds)
    )
    values = {
        "id": new.id,
        "operation": new.operation,
        "params": params,
        "owner": new.owner,
        "priority": new.priority,
        "max_attempts": new.max_attempts,
        "timeout_seconds": timeout,
        "run_at": run_at_us,
        "now": now_us,
        "estimated_duration_seconds": estimate,
        "callback_url": new.callback_url,
        "idempotency_key": new.idempotency_key,
        "request_fingerprint": new.request_fingerprint,
        "idempotency_expires_at": key_until,
        "callback_progress": 1 if new.callback_progress else 0,
        "callback_target": None if new.callback_url is None else target_of(new.callback_url),
        "queue": new.queue,
        "concurrency_key": new.concurrency_key,
        "tags": to_json(list(new.tags)) if new.tags else None,
        "metadata": None if new.metadata is None else to_json(new.metadata),
        "batch_id": new.batch_id,
        "depends_on": to_json(list(new.depends_on)) if new.depends_on else None,
        "dependency_policy": new.dependency_policy,
        "trace_context": new.trace_context,
    }
    created = from_us(now_us)
    job = Job(
        id=new.id,
        operation=new.operation,
        status=Status.QUEUED,
        params=json.loads(params),
        owner=new.owner,
        priority=new.priority,
        progress_pct=0.0,
        step=None,
        attempt=0,
        max_attempts=new.max_attempts,
        timeout_seconds=timeout,
        run_at=from_us(run_at_us),
        created_at=created,
        updated_at=created,
        started_at=None,
        finished_at=None,
        expires_at=None,
        estimated_duration_seconds=estimate,
        version=1,
        callback_url=new.callback_url,
        idempotency_key=new.idempotency_key,
        request_fingerprint=new.request_fingerprint,
        tags=tuple(new.tags),
        metadata=new.metadata,
        batch_id=new.batch_id,
        depends_on=tuple(new.depends_on),
        dependency_policy=new.dependency_policy,
        trace_context=new.trace_context,
    )
    return values, job


def event_from_row(r: Row) -> JobEvent:
    """An `events_after` row."""
    return JobEvent(
        r["job_id"],
        r["version"],
        r["kind"],
        STATUS[r["status"]],
        r["progress_pct"],
        r["step"],
        r["attempt"],
        from_us(r["at"]),
    )


def change_of(job: Job, cancel_requested: bool = False) -> JobChange:
    return JobChange(job.id, job.version, job.status, cancel_requested)


def encode_cursor(last: Job) -> str:
    """Opaque keyset cursor: the (created_at, id) of the last item of a page."""
    raw = f"{to_us(last.created_at)}:{last.id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        created, sep, job_id = raw.partition(":")
        if not sep or not job_id or not created.lstrip("-").isdigit() or "\x00" in job_id:
            raise ValueError
        return int(created), job_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(f"malformed cursor {cursor!r}") from None
