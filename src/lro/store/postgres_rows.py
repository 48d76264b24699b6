"""Row mapping and small codecs of the PostgreSQL store: records to Jobs, list cursors,
NOTIFY payloads, URL options, and the insert path's idempotency rounds."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lro.deliveries import target_of
from lro.errors import KeyReused, StoreUnavailable
from lro.models import ErrorDetail, Inserted, Job, NewJob, ResultRef, Status
from lro.store.base import JobChange

Record = Any  # asyncpg.Record: untyped, kept inside the postgres modules
Conn = Any  # asyncpg.Connection

STATUS = {s.value: s for s in Status}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
URL_OPTIONS = ("pool_min", "pool_max", "connect_timeout", "command_timeout")


def from_epoch(seconds: float) -> datetime:
    """Unix seconds (a float64 is exact to the microsecond for these dates) as UTC."""
    return datetime.fromtimestamp(seconds, UTC)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


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
        return _EPOCH + timedelta(microseconds=int(micros)), job_id
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise ValueError(f"malformed cursor {cursor!r}") from exc


def parse_changes(payload: str) -> tuple[str, list[JobChange]]:
    """Split a NOTIFY payload `origin|id version status cancel;...` (see 0001_init.sql)."""
    origin, _, body = payload.partition("|")
    changes = []
    for line in body.split(";"):
        job_id, version, status, cancel = line.rsplit(" ", 3)
        changes.append(JobChange(job_id, int(version), STATUS[status], cancel == "1"))
    return origin, changes


def split_url(url: str) -> tuple[str, dict[str, float]]:
    """Strip lro's own options from the URL's query; asyncpg gets the rest."""
    parts = urlsplit(url)
    ours: dict[str, float] = {}
    rest = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in URL_OPTIONS:
            try:
                ours[key] = float(value)
            except ValueError:
                raise ValueError(f"store URL option {key}={value!r} is not a number") from None
        else:
            rest.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(rest))), ours


def insert_args(jobs: Sequence[NewJob], now: datetime) -> tuple[Any, ...]:
    """One array per column, in the order of the insert_jobs query's parameters."""
    return (
        [j.id for j in jobs],
        [j.operation for j in jobs],
        [dumps(j.params) for j in jobs],
        [j.owner for j in jobs],
        [j.priority for j in jobs],
        [j.max_attempts for j in jobs],
        [j.timeout_seconds for j in jobs],
        [now if j.run_at is None else j.run_at for j in jobs],
        [j.estimated_duration_seconds for j in jobs],
        [j.callback_url for j in jobs],
        [j.idempotency_key for j in jobs],
        [j.request_fingerprint for j in jobs],
        [j.idempotency_expires_at for j in jobs],
        now,
        [j.callback_progress for j in jobs],
        [None if j.callback_url is None else target_of(j.callback_url) for j in jobs],
        # May be handed straight to a parked worker (0006): one job, due now. A batch is
        # queued, and the workers its notification wakes claim it in batches.
        len(jobs) == 1 and (jobs[0].run_at is None or jobs[0].run_at <= now),
    )


async def insert_keyed(
    conn: Conn, queries: dict[str, str], jobs: Sequence[NewJob], now: datetime
) -> list[Inserted]:
    """Insert a batch with idempotency keys, inside the caller's transaction.

    Optimistic: insert everything with ON CONFLICT DO NOTHING, then look at the jobs that
    conflicted. A live holder is the answer (created=False); a stale one (key window over,
    or its job expired) gives up its key and the job is inserted again. A holder that
    vanished in between (deleted) simply lets the next round insert.
    """
    out: list[Inserted | None] = [None] * len(jobs)
    pending = list(range(len(jobs)))
    for _round in range(5):
        batch = [jobs[i] for i in pending]
        rows = await conn.fetch(queries["insert_jobs"], *insert_args(batch, now))
        created = {r["id"]: job_from_record(r) for r in rows}
        missing: list[int] = []
        for i in pending:
            job = created.pop(jobs[i].id, None)
            if job is not None:
                out[i] = Inserted(job, created=True)
            else:
                missing.append(i)
        if not missing:
            break
        holders = await conn.fetch(
            queries["key_holders"],
            [jobs[i].owner for i in missing],
            [jobs[i].idempotency_key for i in missing],
        )
        by_key = {(r["owner"], r["idempotency_key"]): r for r in holders}
        stale: list[int] = []
        pending = []
        for i in missing:
            holder = by_key.get((jobs[i].owner, jobs[i].idempotency_key))
            if holder is None:
                pending.append(i)
                continue
            key_until, job_until = holder["idempotency_expires_at"], holder["expires_at"]
            if (key_until is None or key_until > now) and (job_until is None or job_until > now):
                if holder["request_fingerprint"] != jobs[i].request_fingerprint:
                    raise KeyReused(str(holder["id"]))  # the caller's transaction rolls back
                out[i] = Inserted(job_from_record(holder), created=False)
            else:
                stale.append(holder["seq"])
                pending.append(i)
        if stale:
            await conn.execute(queries["release_stale_keys"], stale, now)
        if not pending:
            break
    else:
        raise StoreUnavailable("could not settle idempotency keys after 5 rounds")
    return [i for i in out if i is not None]
