"""Rows of the SQLite store <-> lro models: times, JSON columns, list cursors.

Times are stored as integer microseconds since the Unix epoch: exact (a `now` passed in
comes back equal) and compared as plain integers in SQL. Mapping is positional over the
`job_columns` block of queries.sql, because it runs for every job of every batch.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from lro.deliveries import target_of
from lro.models import JSON, ErrorDetail, Job, NewJob, ResultRef, Status
from lro.store.base import JobChange

Row = tuple[Any, ...]

# Positions in `job_columns` (queries.sql); keep in step with that block.
COL_SEQ = 0
COL_STATUS = 3
COL_PRIORITY = 6
COL_RUN_AT = 12
COL_EXPIRES_AT = 17
COL_IDEMPOTENCY_EXPIRES_AT = 27
JOB_COLUMN_COUNT = 31

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


def seconds_to_us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def to_json(value: JSON) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def result_ref_from_json(text: str) -> ResultRef:
    return ResultRef.from_json(json.loads(text))


# job_from_row builds Job positionally (measurably cheaper per row than keywords);
# this check makes a reordering of Job's fields fail at import instead of mis-mapping.
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
]
if [f.name for f in dataclasses.fields(Job)] != _JOB_FIELDS:  # pragma: no cover
    raise ImportError("lro.models.Job fields changed: update lro.store.sqlite_rows")


def job_from_row(r: Row) -> Job:
    """A Job from a `job_columns` row; runs for every job of every batch, so it is flat."""
    started, finished, expires = r[15], r[16], r[17]
    result, result_ref, error, lease_until = r[21], r[22], r[23], r[29]
    return Job(
        r[1],  # id
        r[2],  # operation
        STATUS[r[3]],
        json.loads(r[4]),  # params
        r[5],  # owner
        r[6],  # priority
        r[7],  # progress_pct
        r[8],  # step
        r[9],  # attempt
        r[10],  # max_attempts
        r[11],  # timeout_seconds
        from_us(r[12]),  # run_at
        from_us(r[13]),  # created_at
        from_us(r[14]),  # updated_at
        None if started is None else from_us(started),
        None if finished is None else from_us(finished),
        None if expires is None else from_us(expires),
        r[18],  # estimated_duration_seconds
        r[19],  # version
        r[20] == 1,  # cancel_requested
        None if result is None else json.loads(result),
        None if result_ref is None else result_ref_from_json(result_ref),
        None if error is None else ErrorDetail.from_json(json.loads(error)),
        r[24],  # callback_url
        r[25],  # idempotency_key
        r[26],  # request_fingerprint
        r[28],  # lease_token (r[27], idempotency_expires_at, is not on Job)
        None if lease_until is None else from_us(lease_until),
        r[30],  # worker_id
    )


def new_job_row(new: NewJob, now_us: int) -> tuple[Row, Job]:
    """The `insert_job` parameters for a NewJob, and the Job that insert stores (built
    here rather than read back: one statement per job instead of two)."""
    params = to_json(new.params)
    run_at_us = now_us if new.run_at is None else to_us(new.run_at)
    key_until = None if new.idempotency_expires_at is None else to_us(new.idempotency_expires_at)
    timeout = None if new.timeout_seconds is None else float(new.timeout_seconds)
    estimate = (
        None if new.estimated_duration_seconds is None else float(new.estimated_duration_seconds)
    )
    values: Row = (
        new.id,
        new.operation,
        params,
        new.owner,
        new.priority,
        new.max_attempts,
        timeout,
        run_at_us,
        now_us,
        now_us,
        estimate,
        new.callback_url,
        new.idempotency_key,
        new.request_fingerprint,
        key_until,
        1 if new.callback_progress else 0,
        None if new.callback_url is None else target_of(new.callback_url),
    )
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
    )
    return values, job


def change_of(job: Job) -> JobChange:
    return JobChange(job.id, job.version, job.status)


def encode_cursor(last: Job) -> str:
    """Opaque keyset cursor: the (created_at, id) of the last item of a page."""
    raw = f"{to_us(last.created_at)}:{last.id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        created, sep, job_id = raw.partition(":")
        if not sep or not job_id or not created.lstrip("-").isdigit():
            raise ValueError
        return int(created), job_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(f"malformed cursor {cursor!r}") from None
