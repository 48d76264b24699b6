"""The job verbs of the `Store` protocol on SQLite (what each writes: lro.store.base).

Each verb is one function run as one transaction on the connection layer's writer thread
(reads: the reader thread, or inline on the loop for point lookups), returning the
changes it made so `Database.write` can tell the listeners after the commit. The event
rows and deliveries are written by triggers on `jobs` (schema.sql), so no statement here
can change a job without its event.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lro.models import (
    Completion,
    Failure,
    HeartbeatResult,
    Inserted,
    Job,
    Lease,
    ListQuery,
    NewJob,
    Page,
    ProgressUpdate,
    Status,
    Swept,
    Tombstone,
)
from lro.store.rules import idempotent_replay, rescue_of
from lro.store.sql import load_queries
from lro.store.sqlite.connection import INLINE_ROWS, Changes, Database
from lro.store.sqlite.rows import (
    PACKAGE,
    STATUS,
    JobRow,
    Row,
    change_of,
    decode_cursor,
    encode_cursor,
    event_from_row,
    from_us,
    job_from_row,
    job_row,
    job_rows,
    new_job_params,
    opt_time,
    result_ref_from_json,
    seconds_to_us,
    to_json,
    to_us,
)
from lro.store.sqlite.settle import settle_dependencies
from lro.store.types import (
    CancelOutcome,
    CancelResult,
    ClaimParams,
    DeleteResult,
    JobChange,
    JobCount,
    JobEvent,
    RescueParams,
    SweepParams,
)

Q = load_queries(PACKAGE, "jobs.sql", "rows.sql", "search.sql")

_FIRST_PAGE = (2**63 - 1, "")  # a keyset cursor past every row (see list_jobs in jobs.sql)


def _with_dependencies(
    conn: sqlite3.Connection, jobs: Sequence[NewJob], out: list[Inserted], now_us: int
) -> list[Inserted]:
    """Settle the created jobs that have dependencies (they wait, or fail at once), and
    answer with each such job as it is now stored."""
    created = [new for new, i in zip(jobs, out, strict=True) if i.created and new.depends_on]
    settle_dependencies(conn, created, now_us)
    ids = {new.id for new in created}
    fresh: list[Inserted] = []
    for i in out:
        if i.created and i.job.id in ids:
            job = job_from_row(job_row(conn.execute(Q["get_job"], {"id": i.job.id})))
            fresh.append(Inserted(job, created=True, accepted=job))
        else:
            fresh.append(i)
    return fresh


def _claim_order(row: Row) -> tuple[int, int, int]:
    r = JobRow._make(row)
    return (-r.priority, r.run_at, r.seq)


class SQLiteJobs:
    """The job verbs, on a `Database` (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- submit -------------------------------------------------------------------------
    async def insert_jobs(self, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        if not jobs:
            return []
        now_us = to_us(now)

        def tx(conn: sqlite3.Connection) -> tuple[list[Inserted], Changes]:
            out: list[Inserted] = []
            changes: Changes = []
            for new in jobs:
                if new.idempotency_key is not None:
                    row = job_row(
                        conn.execute(
                            Q["find_by_key"], {"owner": new.owner, "key": new.idempotency_key}
                        )
                    )
                    if row is not None:
                        holder = JobRow._make(row)
                        replay = idempotent_replay(
                            job_from_row(row), opt_time(holder.idempotency_expires_at), new, now
                        )
                        if replay is not None:
                            out.append(replay)
                            continue
                        conn.execute(Q["release_key"], {"seq": holder.seq})
                values, job = new_job_params(new, now_us)
                conn.execute(Q["insert_job"], values)
                out.append(Inserted(job, created=True, accepted=job))
                changes.append(JobChange(job.id, 1, Status.QUEUED))
            if any(new.depends_on for new in jobs):
                out = _with_dependencies(conn, jobs, out, now_us)
                changes = [change_of(i.job) for i in out if i.created]
            return out, changes

        # A submit of a few jobs commits on the loop itself: two thread hops cost more than
        # its insert, and under load the writer thread waits for the GIL (connection.py).
        return await self._db.write(tx, inline=len(jobs) <= INLINE_ROWS)

    # -- read ---------------------------------------------------------------------------
    async def get_job(self, job_id: str) -> Job | None:
        args = {"id": job_id}
        row = await self._db.read_inline(lambda c: job_row(c.execute(Q["get_job"], args)))
        return None if row is None else job_from_row(row)

    async def get_tombstone(self, job_id: str, now: datetime) -> Tombstone | None:
        args = {"id": job_id, "now": to_us(now)}
        row = await self._db.read_inline(lambda c: c.execute(Q["get_tombstone"], args).fetchone())
        if row is None:
            return None
        return Tombstone(row["job_id"], row["owner"], from_us(row["expired_at"]))

    async def list_jobs(self, query: ListQuery, now: datetime) -> Page:
        if query.limit < 1:
            raise ValueError("limit must be at least 1")
        after = _FIRST_PAGE if query.cursor is None else decode_cursor(query.cursor)
        if query.created_before is not None:
            # (created_at, id) < (before, "") is created_at < before: one keyset bound.
            after = min(after, (to_us(query.created_before), ""))
        tags = list(dict.fromkeys(query.tags))
        args = {
            "owner": query.owner,
            "after_created": after[0],
            "after_id": after[1],
            "now": to_us(now),
            "operation": query.operation,
            "statuses": json.dumps([Status(s).value for s in query.statuses])
            if query.statuses
            else None,
            "created_after": None if query.created_after is None else to_us(query.created_after),
            "text": query.text.lower() if query.text else None,
            "tag": tags[0] if tags else None,
            "more_tags": json.dumps(tags[1:]) if len(tags) > 1 else None,
            "limit": query.limit + 1,
        }
        if tags:
            query_name = "list_tagged" if query.owner is not None else "list_all_tagged"
        else:
            query_name = "list_jobs" if query.owner is not None else "list_all_jobs"
            del args["tag"]
        rows = await self._db.read(lambda c: job_rows(c.execute(Q[query_name], args)))
        items = [job_from_row(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return Page(items, encode_cursor(items[-1]) if more and items else None)

    async def events_after(self, job_id: str, after_version: int) -> list[JobEvent]:
        args = {"id": job_id, "after": after_version}
        rows = await self._db.read(lambda c: c.execute(Q["events_after"], args).fetchall())
        return [event_from_row(r) for r in rows]

    async def jobs_with_events(
        self, wanted: Sequence[tuple[str, int]]
    ) -> list[tuple[Job | None, list[JobEvent]]]:
        if not wanted:
            return []

        def read(c: sqlite3.Connection) -> list[tuple[list[Row], Row | None]]:
            # One read transaction: each job row is at least as new as its events.
            c.execute("BEGIN")
            try:
                return [
                    (
                        c.execute(Q["events_after"], {"id": job_id, "after": after}).fetchall(),
                        job_row(c.execute(Q["get_job"], {"id": job_id})),
                    )
                    for job_id, after in wanted
                ]
            finally:
                c.execute("COMMIT")

        return [
            (None, []) if row is None else (job_from_row(row), [event_from_row(r) for r in rows])
            for rows, row in await self._db.read_inline(read)
        ]

    async def recent_durations(self, operation: str, limit: int = 20) -> list[float]:
        args = {"operation": operation, "limit": limit}
        rows = await self._db.read(lambda c: c.execute(Q["recent_durations"], args).fetchall())
        return [float(r["seconds"]) for r in rows]

    async def job_counts(self, owner: str | None, now: datetime) -> list[JobCount]:
        args = {"owner": owner, "now": to_us(now)}
        query = Q["job_counts" if owner is not None else "job_counts_all"]
        rows = await self._db.read(lambda c: c.execute(query, args).fetchall())
        return [JobCount(r["operation"], STATUS[r["status"]], r["count"]) for r in rows]

    async def oldest_queued(self, now: datetime) -> dict[str, datetime]:
        query, args = Q["oldest_queued"], {"now": to_us(now)}
        rows = await self._db.read(lambda c: c.execute(query, args).fetchall())
        return {r["operation"]: from_us(r["due_since"]) for r in rows}

    # -- worker -------------------------------------------------------------------------
    async def claim_jobs(self, params: ClaimParams) -> list[Job]:
        if params.limit < 1:
            return []
        args = {
            "now": to_us(params.now),
            "lease_until": to_us(params.now) + seconds_to_us(params.lease_seconds),
            "worker_id": params.worker_id,
            "limit": params.limit,
            "operations": None
            if params.operations is None
            else json.dumps(list(params.operations)),
        }

        def tx(conn: sqlite3.Connection) -> tuple[list[Job], Changes]:
            rows = job_rows(conn.execute(Q["claim_jobs"], args))
            # RETURNING has no defined order; hand jobs out in claim order.
            rows.sort(key=_claim_order)
            jobs = [job_from_row(r) for r in rows]
            return jobs, [change_of(j) for j in jobs]

        return await self._db.write(tx, inline=params.limit <= INLINE_ROWS)

    async def heartbeat(
        self, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> list[HeartbeatResult]:
        if not leases:
            return []
        until = to_us(now) + seconds_to_us(lease_seconds)

        def tx(conn: sqlite3.Connection) -> tuple[list[HeartbeatResult], Changes]:
            out = []
            for lease in leases:
                args = {"lease_until": until, "id": lease.job_id, "token": lease.token}
                row = conn.execute(Q["heartbeat"], args).fetchone()
                requested = row is not None and row["cancel_requested"] == 1
                out.append(HeartbeatResult(lease.job_id, row is not None, requested))
            return out, []

        return await self._db.write(tx, inline=len(leases) <= INLINE_ROWS)

    async def set_progress(self, updates: Sequence[ProgressUpdate], now: datetime) -> list[bool]:
        if not updates:
            return []
        now_us = to_us(now)

        def tx(conn: sqlite3.Connection) -> tuple[list[bool], Changes]:
            held: list[bool] = []
            changes: Changes = []
            for u in updates:
                before = conn.total_changes
                row = conn.execute(
                    Q["set_progress"],
                    {
                        "pct": float(u.progress_pct),
                        "step": u.step,
                        "now": now_us,
                        "id": u.lease.job_id,
                        "token": u.lease.token,
                    },
                ).fetchone()
                held.append(row is not None)
                # total_changes also counts the trigger's event row: 2 means a new version.
                if row is not None and conn.total_changes - before > 1:
                    changes.append(JobChange(u.lease.job_id, row["version"], STATUS[row["status"]]))
            return held, changes

        return await self._db.write(tx, inline=len(updates) <= INLINE_ROWS)

    async def _fenced(self, items: list[tuple[str, dict[str, Any]]]) -> list[Job | None]:
        """Run one fenced `... RETURNING` update per (query, args) in one transaction."""

        def tx(conn: sqlite3.Connection) -> tuple[list[Job | None], Changes]:
            out: list[Job | None] = []
            changes: Changes = []
            for query, args in items:
                row = job_row(conn.execute(query, args))
                if row is None:
                    out.append(None)
                else:
                    job = job_from_row(row)
                    out.append(job)
                    changes.append(change_of(job))
            return out, changes

        if not items:
            return []
        return await self._db.write(tx, inline=len(items) <= INLINE_ROWS)

    async def complete_jobs(
        self, completions: Sequence[Completion], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        now_us = to_us(now)
        expires = now_us + seconds_to_us(retention_seconds)
        query = Q["complete_job"]
        return await self._fenced(
            [
                (
                    query,
                    {
                        "id": c.lease.job_id,
                        "token": c.lease.token,
                        "now": now_us,
                        "expires_at": expires,
                        "result": None if c.result is None else to_json(c.result),
                        "result_ref": None
                        if c.result_ref is None
                        else to_json(c.result_ref.to_json()),
                        "step": c.step,
                    },
                )
                for c in completions
            ]
        )

    async def fail_jobs(
        self, failures: Sequence[Failure], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        now_us = to_us(now)
        expires = now_us + seconds_to_us(retention_seconds)
        items: list[tuple[str, dict[str, Any]]] = []
        for f in failures:
            args: dict[str, Any] = {"id": f.lease.job_id, "token": f.lease.token, "now": now_us}
            if f.retry_at is not None:
                args["run_at"] = to_us(f.retry_at)
                args["expires_at"] = expires  # used when a requested cancel ends the job
                items.append((Q["retry_job"], args))
            else:
                args["error"] = to_json(f.error.to_json())
                args["expires_at"] = expires
                items.append((Q["fail_job"], args))
        return await self._fenced(items)

    async def cancel_jobs(
        self, leases: Sequence[Lease], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        now_us = to_us(now)
        expires = now_us + seconds_to_us(retention_seconds)
        query = Q["cancel_job"]
        return await self._fenced(
            [
                (query, {"id": le.job_id, "token": le.token, "now": now_us, "expires_at": expires})
                for le in leases
            ]
        )

    async def release_jobs(self, leases: Sequence[Lease], now: datetime) -> list[Job | None]:
        now_us = to_us(now)
        query = Q["release_job"]
        return await self._fenced(
            [(query, {"id": le.job_id, "token": le.token, "now": now_us}) for le in leases]
        )

    async def rescue_expired(self, params: RescueParams) -> list[Job]:
        now_us = to_us(params.now)
        expires = now_us + seconds_to_us(params.retention_seconds)

        def tx(conn: sqlite3.Connection) -> tuple[list[Job], Changes]:
            found = conn.execute(
                Q["expired_leases"], {"now": now_us, "limit": params.limit}
            ).fetchall()
            jobs: list[Job] = []
            for lost in found:
                rescue = rescue_of(
                    operation=lost["operation"],
                    attempt=lost["attempt"],
                    max_attempts=lost["max_attempts"],
                    cancel_requested=lost["cancel_requested"] == 1,
                    now=params.now,
                    retry=params.retry,
                )
                args: dict[str, Any] = {"seq": lost["seq"], "now": now_us}
                if rescue.status is Status.CANCELLED:
                    query, args["expires_at"] = Q["rescue_cancel"], expires
                elif rescue.status is Status.FAILED:
                    assert rescue.error is not None
                    query, args["expires_at"] = Q["rescue_fail"], expires
                    args["error"] = to_json(rescue.error.to_json())
                else:
                    assert rescue.run_at is not None
                    query, args["run_at"] = Q["rescue_requeue"], to_us(rescue.run_at)
                row = job_row(conn.execute(query, args))
                if row is not None:
                    jobs.append(job_from_row(row))
            return jobs, [change_of(j) for j in jobs]

        return await self._db.write(tx)

    # -- client actions -------------------------------------------------------------------
    async def request_cancel(
        self, job_id: str, now: datetime, retention_seconds: float
    ) -> CancelResult | None:
        now_us = to_us(now)
        args = {
            "id": job_id,
            "now": now_us,
            "expires_at": now_us + seconds_to_us(retention_seconds),
        }

        def tx(conn: sqlite3.Connection) -> tuple[CancelResult | None, Changes]:
            row = job_row(conn.execute(Q["cancel_queued"], args))
            if row is not None:
                job = job_from_row(row)
                return CancelResult(job, CancelOutcome.CANCELLED), [change_of(job)]
            row = job_row(conn.execute(Q["request_cancel_running"], args))
            if row is not None:
                job = job_from_row(row)
                requested = CancelResult(job, CancelOutcome.REQUESTED)
                return requested, [change_of(job, cancel_requested=True)]
            row = job_row(conn.execute(Q["get_job"], {"id": job_id}))
            if row is None:
                return None, []
            job = job_from_row(row)
            if job.status is Status.PROCESSING:  # its cancel was requested before
                return CancelResult(job, CancelOutcome.REQUESTED), []
            return CancelResult(job, CancelOutcome.FINISHED), []

        return await self._db.write(tx, inline=True)

    async def delete_job(self, job_id: str) -> DeleteResult | None:
        def tx(conn: sqlite3.Connection) -> tuple[DeleteResult | None, Changes]:
            row = job_row(conn.execute(Q["get_job"], {"id": job_id}))
            if row is None:
                return None, []
            job = job_from_row(row)
            if not job.is_terminal:
                return DeleteResult(job, deleted=False), []
            conn.execute(Q["delete_terminal"], {"seq": JobRow._make(row).seq})
            # No new version exists; the change still wakes local waiters to re-read (404).
            return DeleteResult(job, deleted=True), [change_of(job)]

        return await self._db.write(tx)

    # -- maintenance --------------------------------------------------------------------
    async def sweep(self, params: SweepParams) -> Swept:
        now_us = to_us(params.now)
        keep_us = seconds_to_us(params.tombstone_seconds)
        limit = {"now": now_us, "limit": params.batch_size}

        def tx(conn: sqlite3.Connection) -> tuple[Swept, Changes]:
            rows = conn.execute(Q["sweep_jobs"], limit).fetchall()
            conn.executemany(
                Q["insert_tombstone"],
                [
                    {
                        "job_id": r["id"],
                        "owner": r["owner"],
                        "expired_at": r["expires_at"],
                        "keep_until": r["expires_at"] + keep_us,
                    }
                    for r in rows
                ],
            )
            conn.execute(Q["drop_tombstones"], limit)
            conn.execute(Q["clear_idempotency_keys"], limit)
            swept = Swept(
                job_ids=[r["id"] for r in rows],
                result_refs=[
                    result_ref_from_json(r["result_ref"])
                    for r in rows
                    if r["result_ref"] is not None
                ],
            )
            return swept, []

        return await self._db.write(tx)
