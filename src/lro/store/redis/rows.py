"""Redis hashes <-> lro models: the record layout (keys.py names the keys).

A job is one hash whose fields are `Job`'s, plus the bookkeeping the SQL backends keep
as columns (`idempotency_expires_at`, `callback_progress`, `callback_target`) and the
Redis-only ones: `seq` (insert order), `queue` (the BullMQ queue), `rk` (its member in
its operation's ready set, while there) and `external` ("1" while a plain BullMQ worker
holds it). Absent fields are NULL. Times are integer microseconds since the epoch as
decimal strings, so a `now` passed in comes back equal; JSON fields hold JSON text.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from lro.deliveries import Delivery, DeliveryAttempt, DeliveryStatus, target_of
from lro.models import JSON, ErrorDetail, Job, NewJob, ResultRef, Status
from lro.store.types import JobChange, JobEvent

Hash = Mapping[str, str]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATUS = {s.value: s for s in Status}


def to_us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def from_us(us: int | str) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def opt_time(us: str | None) -> datetime | None:
    return None if us is None else from_us(us)


def us_text(t: datetime) -> str:
    return str(to_us(t))


def to_json(value: JSON) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def hash_of(flat: Sequence[Any]) -> dict[str, str]:
    """A Lua script's `flat_of(j)` (or HGETALL's list) as a dict."""
    it = iter(flat)
    return dict(zip(it, it, strict=True))


def job_from_hash(h: Hash) -> Job:
    result, ref, error = h.get("result"), h.get("result_ref"), h.get("error")
    timeout, estimate = h.get("timeout_seconds"), h.get("estimated_duration_seconds")
    lease_until = h.get("lease_expires_at")
    return Job(
        id=h["id"],
        operation=h["operation"],
        status=STATUS[h["status"]],
        params=json.loads(h["params"]),
        owner=h["owner"],
        priority=int(h["priority"]),
        progress_pct=float(h["progress_pct"]),
        step=h.get("step"),
        attempt=int(h["attempt"]),
        max_attempts=int(h["max_attempts"]),
        timeout_seconds=None if timeout is None else float(timeout),
        run_at=from_us(h["run_at"]),
        created_at=from_us(h["created_at"]),
        updated_at=from_us(h["updated_at"]),
        started_at=opt_time(h.get("started_at")),
        finished_at=opt_time(h.get("finished_at")),
        expires_at=opt_time(h.get("expires_at")),
        estimated_duration_seconds=None if estimate is None else float(estimate),
        version=int(h["version"]),
        cancel_requested=h.get("cancel_requested") == "1",
        result=None if result is None else json.loads(result),
        result_ref=None if ref is None else ResultRef.from_json(json.loads(ref)),
        error=None if error is None else ErrorDetail.from_json(json.loads(error)),
        callback_url=h.get("callback_url"),
        idempotency_key=h.get("idempotency_key"),
        request_fingerprint=h.get("request_fingerprint"),
        lease_token=h.get("lease_token"),
        lease_expires_at=opt_time(lease_until),
        worker_id=h.get("worker_id"),
        trace_context=h.get("trace_context"),
    )


def new_job_hash(new: NewJob, now: datetime, queue: str) -> dict[str, str]:
    """The fields a NewJob is stored with (`seq` is added by the insert script)."""
    now_us = us_text(now)
    fields: dict[str, str | None] = {
        "id": new.id,
        "operation": new.operation,
        "status": Status.QUEUED.value,
        "params": to_json(new.params),
        "owner": new.owner,
        "priority": str(int(new.priority)),
        "progress_pct": "0.0",
        "attempt": "0",
        "max_attempts": str(int(new.max_attempts)),
        "timeout_seconds": None
        if new.timeout_seconds is None
        else repr(float(new.timeout_seconds)),
        "run_at": now_us if new.run_at is None else us_text(new.run_at),
        "created_at": now_us,
        "updated_at": now_us,
        "estimated_duration_seconds": None
        if new.estimated_duration_seconds is None
        else repr(float(new.estimated_duration_seconds)),
        "version": "1",
        "cancel_requested": "0",
        "callback_url": new.callback_url,
        "idempotency_key": new.idempotency_key,
        "request_fingerprint": new.request_fingerprint,
        "idempotency_expires_at": None
        if new.idempotency_expires_at is None
        else us_text(new.idempotency_expires_at),
        "callback_progress": "1" if new.callback_progress else "0",
        "callback_target": None if new.callback_url is None else target_of(new.callback_url),
        "queue": queue,
        "trace_context": new.trace_context,
    }
    return {k: v for k, v in fields.items() if v is not None}


def event_from_json(job_id: str, raw: str) -> JobEvent:
    """One element of a job's events list (common.lua: change)."""
    version, kind, status, pct, step, has_step, attempt, _requested, at = json.loads(raw)
    return JobEvent(
        job_id,
        int(version),
        kind,
        STATUS[status],
        float(pct),
        step if has_step else None,
        int(attempt),
        from_us(at),
    )


def changes_of(raw: Sequence[Sequence[str]]) -> list[JobChange]:
    """A script's CHANGES: [job_id, version, status, requested]."""
    return [JobChange(c[0], int(c[1]), STATUS[c[2]], c[3] == "1") for c in raw]


def delivery_from_hash(h: Hash, history: Sequence[DeliveryAttempt] = ()) -> Delivery:
    code = h.get("last_status_code")
    return Delivery(
        id=h["id"],
        job_id=h["job_id"],
        event_type=h["event_type"],
        url=h["url"],
        event_at=from_us(h["event_at"]),
        status=DeliveryStatus(h["status"]),
        attempts=int(h["attempts"]),
        next_attempt_at=opt_time(h.get("next_attempt_at")),
        created_at=from_us(h["created_at"]),
        delivered_at=opt_time(h.get("delivered_at")),
        last_status_code=None if code is None else int(code),
        last_error=h.get("last_error"),
        manual=h.get("manual") == "1",
        history=tuple(history),
        target=h.get("target", ""),
    )


def attempt_from_json(raw: str) -> DeliveryAttempt:
    attempt, at, code, duration_ms, error = json.loads(raw)
    return DeliveryAttempt(
        int(attempt), from_us(at), None if code is None else int(code), float(duration_ms), error
    )


def delivery_id() -> str:
    """32 hex digits; scripts make the `msg_` id of a delivery they write from it."""
    return uuid.uuid4().hex


def created_member(created_us: int, job_id: str) -> str:
    """A job's member in the owner and all-jobs indexes (common.lua, insert.lua)."""
    return f"{created_us:017d}|{job_id}"


def encode_cursor(last: Job) -> str:
    raw = f"{to_us(last.created_at)}:{last.id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        created, sep, job_id = raw.partition(":")
        if not sep or not job_id or not created.isdigit() or "\x00" in job_id:
            raise ValueError
        return int(created), job_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError(f"malformed cursor {cursor!r}") from None
