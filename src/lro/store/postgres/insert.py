"""Submits on PostgreSQL: `Store.insert_jobs`, with its idempotency rounds and the answer
a handed-off job's submit shows. The statement (sql/insert.sql) also decides the direct
hand-off to a parked worker (handoff.py has the worker's side)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lro.deliveries import target_of
from lro.errors import StoreUnavailable
from lro.models import Inserted, Job, NewJob
from lro.store.postgres.connection import Database, run
from lro.store.postgres.rows import (
    PACKAGE,
    STATUS,
    Conn,
    Record,
    as_accepted,
    dumps,
    job_from_record,
)
from lro.store.postgres.settle import settle_dependencies
from lro.store.rules import idempotent_replay
from lro.store.sql import load_numbered

Q = load_numbered(PACKAGE, "insert.sql", "rows.sql", "handoff.sql")


def _column(values: list[Any]) -> list[Any] | None:
    """A column of the insert that is all NULL goes as one NULL array (unnest pads it with
    NULLs): asyncpg checks every element of an array it encodes, and most of these
    columns (keys, callbacks, tags, batch, trace...) are empty in most submits."""
    for value in values:
        if value is not None:
            return values
    return None


def insert_params(jobs: Sequence[NewJob], now: datetime) -> dict[str, Any]:
    """One array per column of the insert_jobs statement (None: all NULL)."""
    return {
        "ids": [j.id for j in jobs],
        "operations": [j.operation for j in jobs],
        "params": [dumps(j.params) for j in jobs],
        "owners": [j.owner for j in jobs],
        "priorities": [j.priority for j in jobs],
        "max_attempts": [j.max_attempts for j in jobs],
        "timeouts": _column([j.timeout_seconds for j in jobs]),
        "run_at": [now if j.run_at is None else j.run_at for j in jobs],
        "estimates": _column([j.estimated_duration_seconds for j in jobs]),
        "callback_urls": _column([j.callback_url for j in jobs]),
        "keys": _column([j.idempotency_key for j in jobs]),
        "fingerprints": _column([j.request_fingerprint for j in jobs]),
        "key_expiries": _column([j.idempotency_expires_at for j in jobs]),
        "now": now,
        # NULL reads as false (the statement's coalesce): most jobs send no progress.
        "callback_progress": _column([j.callback_progress or None for j in jobs]),
        "callback_targets": _column(
            [None if j.callback_url is None else target_of(j.callback_url) for j in jobs]
        ),
        "queues": [j.queue for j in jobs],
        "concurrency_keys": _column([j.concurrency_key for j in jobs]),
        "tags": _column([dumps(list(j.tags)) if j.tags else None for j in jobs]),
        "metadata": _column([None if j.metadata is None else dumps(j.metadata) for j in jobs]),
        "batch_ids": _column([j.batch_id for j in jobs]),
        "depends_on": _column([dumps(list(j.depends_on)) if j.depends_on else None for j in jobs]),
        "dependency_policies": _column([j.dependency_policy for j in jobs]),
        "trace_contexts": _column([j.trace_context for j in jobs]),
        # May be handed straight to a parked worker (0006): one job, due now. A batch is
        # queued, and the workers its notification wakes claim it in batches. A job with
        # a concurrency key never is: its limits are counted by the limited claim alone
        # (0009), which a hand-off would bypass. Nor is one waiting on dependencies.
        "may_hand_off": len(jobs) == 1
        and not jobs[0].depends_on
        and (jobs[0].run_at is None or jobs[0].run_at <= now)
        and jobs[0].concurrency_key is None,
    }


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is UTC else at.astimezone(UTC)


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def stored_job(new: NewJob, row: Record, now: datetime) -> Job:
    """The job `insert_jobs` just stored, as `job_from_record` would read it back: the
    NewJob's values, the columns' defaults, and what the statement decided (`row`: queued,
    or handed off with a lease; the columns of the statement's final SELECT, in its
    order). Built here rather than returned by the statement, which
    saves sending and decoding the whole row (params and metadata are the values given;
    PostgreSQL's jsonb keeps the same values, in its own key order)."""
    _, status, version, attempt, worker_id, lease_token, lease_expires_at, started_at, _ = row
    return Job(
        id=new.id,
        operation=new.operation,
        status=STATUS[status],
        params=new.params,
        owner=new.owner,
        priority=new.priority,
        progress_pct=0.0,
        step=None,
        attempt=attempt,
        max_attempts=new.max_attempts,
        timeout_seconds=_float(new.timeout_seconds),
        run_at=now if new.run_at is None else _utc(new.run_at),
        created_at=now,
        updated_at=now,
        started_at=started_at,
        finished_at=None,
        expires_at=None,
        estimated_duration_seconds=_float(new.estimated_duration_seconds),
        version=version,
        callback_url=new.callback_url,
        idempotency_key=new.idempotency_key,
        request_fingerprint=new.request_fingerprint,
        lease_token=lease_token,
        lease_expires_at=lease_expires_at,
        worker_id=worker_id,
        tags=tuple(new.tags) if new.tags else (),
        metadata=new.metadata,
        batch_id=new.batch_id,
        depends_on=tuple(new.depends_on) if new.depends_on else (),
        dependency_policy=new.dependency_policy,
        trace_context=new.trace_context,
    )


def _created(new: NewJob, row: Record, now: datetime) -> Inserted:
    job = stored_job(new, row, now)
    return Inserted(job, created=True, accepted=as_accepted(job))


async def insert_jobs(db: Database, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
    """Insert a batch: one statement without idempotency keys or dependencies, else a
    transaction (`insert_keyed`, then the dependencies settled)."""
    if all(j.idempotency_key is None and not j.depends_on for j in jobs):
        now = _utc(now)
        rows = await db.fetch_retrying(Q["insert_jobs"], **insert_params(jobs, now))
        if len(jobs) == 1:
            return [_created(jobs[0], rows[0], now)]
        by_id = {r["id"]: r for r in rows}
        return [_created(new, by_id[new.id], now) for new in jobs]
    return await db.tx(lambda conn: insert_settled(conn, jobs, _utc(now)))


async def insert_settled(conn: Conn, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
    """`insert_keyed`, then the created jobs with dependencies settled (they wait, or
    fail at once), answered as they are then stored."""
    out = await insert_keyed(conn, jobs, now)
    created = [new for new, i in zip(jobs, out, strict=True) if i.created and new.depends_on]
    if not created:
        return out
    await settle_dependencies(conn, created, now)
    rows = await run(conn, Q["jobs_by_id"], ids=[new.id for new in created])
    fresh = {r["id"]: job_from_record(r) for r in rows}
    return [
        Inserted(fresh[i.job.id], created=True, accepted=fresh[i.job.id])
        if i.created and i.job.id in fresh
        else i
        for i in out
    ]


async def insert_keyed(conn: Conn, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
    """Insert a batch with idempotency keys, inside the caller's transaction.

    Optimistic: insert everything with ON CONFLICT DO NOTHING, then look at the jobs that
    conflicted. A live holder is the answer (`rules.idempotent_replay`); a stale one gives
    up its key, and the round is undone and run again without the answered jobs, so the
    rest are inserted in batch order. A holder that vanished in between (deleted) simply
    lets the next round insert.
    """
    out: list[Inserted | None] = [None] * len(jobs)
    pending = list(range(len(jobs)))
    for _round in range(5):
        batch = [jobs[i] for i in pending]
        # A savepoint per round: a round that must free stale keys is undone and run
        # again, so the batch's jobs are inserted in one statement, in batch order (the
        # claim's last tie-breaker), as if the stale keys had never been there.
        savepoint = conn.transaction()
        await savepoint.start()
        rows = await run(conn, Q["insert_jobs"], **insert_params(batch, now))
        created = {r["id"]: r for r in rows}
        missing = [i for i in pending if jobs[i].id not in created]
        if not missing:
            await savepoint.commit()
            for i in pending:
                out[i] = _created(jobs[i], created[jobs[i].id], now)
            break
        holders = await run(
            conn,
            Q["key_holders"],
            owners=[jobs[i].owner for i in missing],
            keys=[jobs[i].idempotency_key for i in missing],
        )
        by_key = {(r["owner"], r["idempotency_key"]): r for r in holders}
        stale: list[int] = []
        replays: dict[int, Inserted] = {}
        for i in missing:
            holder = by_key.get((jobs[i].owner, jobs[i].idempotency_key))
            if holder is None:
                continue  # the holder vanished meanwhile: the next round inserts
            if holder["id"] in created:
                continue  # held by a job of this very batch: answered below
            replay = idempotent_replay(
                job_from_record(holder), holder["idempotency_expires_at"], jobs[i], now
            )  # KeyReused: the caller's transaction rolls back
            if replay is not None:
                replays[i] = replay
            else:
                stale.append(holder["seq"])
        vanished = any((jobs[i].owner, jobs[i].idempotency_key) not in by_key for i in missing)
        if stale or vanished:
            # Undo this round, free the stale keys, and insert the rest again in order.
            await savepoint.rollback()
            if stale:
                await run(conn, Q["release_stale_keys"], seqs=stale, now=now)
            for i, replay in replays.items():
                out[i] = replay
            pending = [i for i in pending if i not in replays]
            continue
        await savepoint.commit()
        for i in pending:
            row = created.get(jobs[i].id)
            if row is not None:
                out[i] = _created(jobs[i], row, now)
            elif i in replays:
                out[i] = replays[i]
            else:  # a duplicate of a job created earlier in this batch
                holder = by_key[(jobs[i].owner, jobs[i].idempotency_key)]
                replay = idempotent_replay(
                    job_from_record(holder), holder["idempotency_expires_at"], jobs[i], now
                )
                assert replay is not None, "a key taken in this batch is live"
                out[i] = replay
        break
    else:
        raise StoreUnavailable("could not settle idempotency keys after 5 rounds")
    return [i for i in out if i is not None]
