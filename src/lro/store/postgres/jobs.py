"""The job verbs of the `Store` protocol on PostgreSQL (what each writes: lro.store.base).

Every verb is one statement where it can be (batches pass one array per column and
`unnest` them; the event rows are a CTE of the same statement), so a batch of 20 claims
or completions costs one round trip. The SQL lives in sql/jobs.sql. After a write
commits, the changes go to this process's listeners at once (`Database.notify`); other
processes hear of them through the events table's NOTIFY trigger (listen.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

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
    ResultRef,
    Status,
    Swept,
    Tombstone,
)
from lro.store.postgres.connection import Database, run
from lro.store.postgres.insert import insert_jobs
from lro.store.postgres.rows import (
    PACKAGE,
    STATUS,
    Conn,
    Record,
    change_of,
    decode_cursor,
    dumps,
    encode_cursor,
    event_from_record,
    from_epoch,
    job_from_record,
)
from lro.store.rules import rescue_of
from lro.store.sql import load_numbered
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

Q = load_numbered(PACKAGE, "jobs.sql", "rows.sql", "search.sql")


class PostgresJobs:
    """The job verbs, on a `Database` (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- submit -------------------------------------------------------------------------
    async def insert_jobs(self, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        if not jobs:
            return []
        out = await insert_jobs(self._db, jobs, now)
        self._db.notify([change_of(i.job) for i in out if i.created])
        return out

    # -- read ---------------------------------------------------------------------------
    async def get_job(self, job_id: str) -> Job | None:
        rows = await self._db.read(Q["get_job"], id=job_id)
        return job_from_record(rows[0]) if rows else None

    async def get_tombstone(self, job_id: str, now: datetime) -> Tombstone | None:
        rows = await self._db.read(Q["get_tombstone"], id=job_id, now=now)
        if not rows:
            return None
        return Tombstone(rows[0]["job_id"], rows[0]["owner"], rows[0]["expired_at"])

    async def list_jobs(self, query: ListQuery, now: datetime) -> Page:
        if query.limit < 1:
            raise ValueError("limit must be at least 1")
        after: tuple[datetime | None, str] = (
            (None, "") if query.cursor is None else decode_cursor(query.cursor)
        )
        before = query.created_before
        if before is not None and (after[0] is None or (before, "") < (after[0], after[1])):
            # (created_at, id) < (before, "") is created_at < before: one keyset bound.
            after = (before, "")
        statuses = [Status(s).value for s in query.statuses] if query.statuses else None
        tags = list(dict.fromkeys(query.tags))
        page = {
            "after_created": after[0],
            "after_id": after[1],
            "now": now,
            "operation": query.operation,
            "statuses": statuses,
            "created_after": query.created_after,
            "text": query.text.lower() if query.text else None,
            "limit": query.limit + 1,
        }
        if tags:
            page["tag"] = tags[0]
            page["more_tags"] = dumps(tags[1:]) if len(tags) > 1 else None
            name = "list_tagged" if query.owner is not None else "list_all_tagged"
        else:
            name = "list_jobs" if query.owner is not None else "list_all_jobs"
        if query.owner is None:
            rows = await self._db.read(Q[name], **page)
        else:
            rows = await self._db.read(Q[name], owner=query.owner, **page)
        items = [job_from_record(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return Page(items, encode_cursor(items[-1]) if more and items else None)

    async def jobs_with_events(
        self, wanted: Sequence[tuple[str, int]]
    ) -> list[tuple[Job | None, list[JobEvent]]]:
        if not wanted:
            return []
        rows = await self._db.read(
            Q["jobs_with_events"], ids=[w[0] for w in wanted], afters=[w[1] for w in wanted]
        )
        answers: list[tuple[Job | None, list[JobEvent]]] = [(None, [])] * len(wanted)
        for row in rows:
            job_id = row["id"]
            events = [
                JobEvent(job_id, v, kind, STATUS[s], pct, step, attempt, from_epoch(at))
                for v, kind, s, pct, step, attempt, at in json.loads(row["new_events"])
            ]
            answers[row["ord"] - 1] = (job_from_record(row), events)
        return answers

    async def events_after(self, job_id: str, after_version: int) -> list[JobEvent]:
        rows = await self._db.read(Q["events_after"], id=job_id, after=after_version)
        return [event_from_record(r) for r in rows]

    async def recent_durations(self, operation: str, limit: int = 20) -> list[float]:
        rows = await self._db.read(Q["recent_durations"], operation=operation, limit=limit)
        return [float(r["seconds"]) for r in rows]

    async def job_counts(self, owner: str | None, now: datetime) -> list[JobCount]:
        if owner is None:
            rows = await self._db.read(Q["job_counts_all"], now=now)
        else:
            rows = await self._db.read(Q["job_counts"], owner=owner, now=now)
        return [JobCount(r["operation"], STATUS[r["status"]], r["count"]) for r in rows]

    async def oldest_queued(self, now: datetime) -> dict[str, datetime]:
        rows = await self._db.read(Q["oldest_queued"], now=now)
        return {r["operation"]: r["due_since"] for r in rows}

    # -- worker -------------------------------------------------------------------------
    async def claim_jobs(self, params: ClaimParams) -> list[Job]:
        return await self.claim(params)

    async def claim(self, params: ClaimParams, *, park_key: int | None = None) -> list[Job]:
        """claim_jobs; with `park_key` (the hand-off's), a claim that comes back short
        also parks the worker for a hand-off, in the same statement."""
        if params.limit < 1:
            return []
        claim = {
            "now": params.now,
            "lease_until": params.now + timedelta(seconds=params.lease_seconds),
            "worker_id": params.worker_id,
            "operations": None if params.operations is None else list(params.operations),
            "limit": params.limit,
        }
        if park_key is None:
            rows = await self._db.fetch_retrying(Q["claim_jobs"], **claim)
        else:
            rows = await self._db.fetch_retrying(
                Q["claim_or_park"], **claim, park_key=park_key, lease_seconds=params.lease_seconds
            )
        jobs = [job_from_record(r) for r in rows]
        self._db.notify([change_of(j) for j in jobs])
        return jobs

    async def heartbeat(
        self, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> list[HeartbeatResult]:
        if not leases:
            return []
        rows = await self._db.fetch_retrying(
            Q["heartbeat"],
            job_ids=[le.job_id for le in leases],
            tokens=[le.token for le in leases],
            lease_until=now + timedelta(seconds=lease_seconds),
        )
        held = {(r["id"], r["lease_token"]): bool(r["cancel_requested"]) for r in rows}
        return [
            HeartbeatResult(
                le.job_id, (le.job_id, le.token) in held, held.get((le.job_id, le.token), False)
            )
            for le in leases
        ]

    async def set_progress(self, updates: Sequence[ProgressUpdate], now: datetime) -> list[bool]:
        if not updates:
            return []
        # One row per job, so one statement never updates a row twice; repeated updates
        # of a job in one batch merge into the highest progress and the last step given.
        merged: dict[tuple[str, str], tuple[float, str | None]] = {}
        for u in updates:
            key = (u.lease.job_id, u.lease.token)
            pct, step = merged.get(key, (float("-inf"), None))
            merged[key] = (max(pct, float(u.progress_pct)), u.step if u.step is not None else step)
        rows = await self._db.fetch_retrying(
            Q["set_progress"],
            job_ids=[k[0] for k in merged],
            tokens=[k[1] for k in merged],
            pcts=[v[0] for v in merged.values()],
            steps=[v[1] for v in merged.values()],
            now=now,
        )
        held = {(r["id"], r["token"]) for r in rows}
        self._db.notify(
            [
                JobChange(r["id"], r["version"], STATUS[r["status"]])
                for r in rows
                if r["version"] is not None
            ]
        )
        return [(u.lease.job_id, u.lease.token) in held for u in updates]

    def _by_lease(self, leases: Sequence[Lease], rows: list[Record]) -> list[Job | None]:
        """Order fenced results like `leases`: a row answers the lease whose token matched
        (the batch statements return it as `fenced_by`); tell the listeners."""
        jobs = {(r["id"], r["fenced_by"]): job_from_record(r) for r in rows}
        self._db.notify([change_of(j) for j in jobs.values()])
        return [jobs.get((le.job_id, le.token)) for le in leases]

    async def complete_jobs(
        self, completions: Sequence[Completion], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        if not completions:
            return []
        rows = await self._db.fetch_retrying(
            Q["complete_jobs"],
            job_ids=[c.lease.job_id for c in completions],
            tokens=[c.lease.token for c in completions],
            results=[None if c.result is None else dumps(c.result) for c in completions],
            result_refs=[
                None if c.result_ref is None else dumps(c.result_ref.to_json()) for c in completions
            ],
            now=now,
            expires_at=now + timedelta(seconds=retention_seconds),
            steps=[c.step for c in completions],
        )
        return self._by_lease([c.lease for c in completions], rows)

    async def fail_jobs(
        self, failures: Sequence[Failure], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        if not failures:
            return []
        rows = await self._db.fetch_retrying(
            Q["fail_jobs"],
            job_ids=[f.lease.job_id for f in failures],
            tokens=[f.lease.token for f in failures],
            retry_at=[f.retry_at for f in failures],
            errors=[None if f.retry_at is not None else dumps(f.error.to_json()) for f in failures],
            now=now,
            expires_at=now + timedelta(seconds=retention_seconds),
        )
        return self._by_lease([f.lease for f in failures], rows)

    async def cancel_jobs(
        self, leases: Sequence[Lease], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        if not leases:
            return []
        rows = await self._db.fetch_retrying(
            Q["cancel_jobs"],
            job_ids=[le.job_id for le in leases],
            tokens=[le.token for le in leases],
            now=now,
            expires_at=now + timedelta(seconds=retention_seconds),
        )
        return self._by_lease(leases, rows)

    async def release_jobs(self, leases: Sequence[Lease], now: datetime) -> list[Job | None]:
        if not leases:
            return []
        rows = await self._db.fetch_retrying(
            Q["release_jobs"],
            job_ids=[le.job_id for le in leases],
            tokens=[le.token for le in leases],
            now=now,
        )
        return self._by_lease(leases, rows)

    async def rescue_expired(self, params: RescueParams) -> list[Job]:
        now = params.now

        async def tx(conn: Conn) -> list[Record]:
            found = await run(conn, Q["expired_leases"], now=now, limit=params.limit)
            if not found:
                return []
            rescues = [
                rescue_of(
                    operation=r["operation"],
                    attempt=r["attempt"],
                    max_attempts=r["max_attempts"],
                    cancel_requested=r["cancel_requested"],
                    now=now,
                    retry=params.retry,
                )
                for r in found
            ]
            return await run(
                conn,
                Q["rescue"],
                seqs=[r["seq"] for r in found],
                statuses=[x.status.value for x in rescues],
                errors=[None if x.error is None else dumps(x.error.to_json()) for x in rescues],
                run_at=[x.run_at for x in rescues],
                now=now,
                expires_at=now + timedelta(seconds=params.retention_seconds),
            )

        jobs = [job_from_record(r) for r in await self._db.tx(tx)]
        self._db.notify([change_of(j) for j in jobs])
        return jobs

    # -- client actions -------------------------------------------------------------------
    async def request_cancel(
        self, job_id: str, now: datetime, retention_seconds: float
    ) -> CancelResult | None:
        expires = now + timedelta(seconds=retention_seconds)

        # Two statements, each with its own snapshot: if a claim commits between them, the
        # first finds the job no longer queued and the second sees it processing.
        async def tx(conn: Conn) -> tuple[CancelResult | None, JobChange | None]:
            rows = await run(conn, Q["cancel_queued"], id=job_id, now=now, expires_at=expires)
            if rows:
                job = job_from_record(rows[0])
                return CancelResult(job, CancelOutcome.CANCELLED), change_of(job)
            rows = await run(conn, Q["request_cancel_running"], id=job_id, now=now)
            if rows:
                job = job_from_record(rows[0])
                requested = CancelResult(job, CancelOutcome.REQUESTED)
                return requested, change_of(job, cancel_requested=True)
            rows = await run(conn, Q["get_job"], id=job_id)
            if not rows:
                return None, None
            job = job_from_record(rows[0])
            if job.status is Status.PROCESSING:  # its cancel was requested before
                return CancelResult(job, CancelOutcome.REQUESTED), None
            return CancelResult(job, CancelOutcome.FINISHED), None

        result, change = await self._db.tx(tx)
        if change is not None:
            self._db.notify([change])
        return result

    async def delete_job(self, job_id: str) -> DeleteResult | None:
        rows = await self._db.fetch(Q["delete_terminal"], id=job_id)
        if rows:
            job = job_from_record(rows[0])
            # No new version exists; the change still wakes local waiters to re-read (404).
            self._db.notify([change_of(job)])
            return DeleteResult(job, deleted=True)
        kept = await self.get_job(job_id)
        return None if kept is None else DeleteResult(kept, deleted=False)

    # -- maintenance --------------------------------------------------------------------
    async def sweep(self, params: SweepParams) -> Swept:
        rows = await self._db.fetch_retrying(
            Q["sweep"],
            now=params.now,
            limit=params.batch_size,
            tombstone_seconds=float(params.tombstone_seconds),
        )
        return Swept(
            job_ids=[r["id"] for r in rows],
            result_refs=[
                ResultRef.from_json(json.loads(r["result_ref"]))
                for r in rows
                if r["result_ref"] is not None
            ],
        )
