"""Long jobs on PostgreSQL (`lro.store.steps.Steps`): steps, checkpoints, partials, retry.

Each fenced verb is one statement that checks the lease and writes under the job row's
lock (see sql/steps.sql); a batch of checkpoints is one statement for any number of
jobs, and a batch of partials one transaction, so the worker's grouping of them costs a
round trip per batch, not per call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lro.models import Lease, Status
from lro.store.postgres.connection import Database, run
from lro.store.postgres.rows import PACKAGE, STATUS, Conn, Record, dumps, job_from_record
from lro.store.sql import load_numbered
from lro.store.steps import (
    JSON,
    CheckpointWrite,
    JobFilter,
    Partial,
    PartialWrite,
    Resume,
    RetryOutcome,
    RetryResult,
    StepRecord,
)
from lro.store.types import JobChange

Q = load_numbered(PACKAGE, "steps.sql", "rows.sql")


def _partial(r: Record) -> Partial:
    return Partial(r["seq"], r["version"], json.loads(r["data"]), r["created_at"])


class PostgresSteps:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def resume(self, job_id: str) -> Resume:
        [row] = await self._db.read(Q["resume"], job_id=job_id)
        checkpoint = row["checkpoint"]
        return Resume(
            found=bool(row["found"]),
            checkpoint=None if checkpoint is None else json.loads(checkpoint),
            completed=json.loads(row["completed"]),
            partial_bytes=int(row["partial_bytes"]),
        )

    async def list_steps(self, job_id: str) -> list[StepRecord]:
        rows = await self._db.read(Q["list_steps"], job_id=job_id)
        return [
            StepRecord(
                r["name"],
                r["status"],
                r["attempt"],
                r["started_at"],
                r["finished_at"],
                None if r["result"] is None else json.loads(r["result"]),
            )
            for r in rows
        ]

    async def _fenced(self, query: str, lease: Lease, **args: Any) -> bool:
        rows = await self._db.fetch_retrying(
            Q[query], job_id=lease.job_id, token=lease.token, **args
        )
        return bool(rows[0]["held"])

    async def start_step(self, lease: Lease, name: str, now: datetime) -> bool:
        return await self._fenced("start_step", lease, name=name, now=now)

    async def finish_step(self, lease: Lease, name: str, result: JSON, now: datetime) -> bool:
        return await self._fenced("finish_step", lease, name=name, now=now, result=dumps(result))

    async def fail_step(self, lease: Lease, name: str, now: datetime) -> bool:
        return await self._fenced("fail_step", lease, name=name, now=now)

    async def set_checkpoints(self, writes: Sequence[CheckpointWrite], now: datetime) -> list[bool]:
        if not writes:
            return []
        rows = await self._db.fetch_retrying(
            Q["set_checkpoints"],
            job_ids=[w.lease.job_id for w in writes],
            tokens=[w.lease.token for w in writes],
            vals=[dumps(w.value) for w in writes],
            now=now,
        )
        held = {(r["id"], r["token"]) for r in rows}
        return [(w.lease.job_id, w.lease.token) in held for w in writes]

    async def append_partials(self, writes: Sequence[PartialWrite], now: datetime) -> list[bool]:
        if not writes:
            return []
        # Jobs in id order, as the job verbs lock them (no deadlock with a heartbeat).
        order = sorted(range(len(writes)), key=lambda i: writes[i].lease.job_id)

        async def tx(conn: Conn) -> list[Record | None]:
            out: list[Record | None] = [None] * len(writes)
            for i in order:
                w = writes[i]
                if not w.values:
                    continue
                rows = await run(
                    conn,
                    Q["append_partials"],
                    job_id=w.lease.job_id,
                    token=w.lease.token,
                    datas=[dumps(v) for v in w.values],
                    count=len(w.values),
                    now=now,
                )
                out[i] = rows[0] if rows else None
            return out

        results = await self._db.tx(tx)
        self._db.notify(
            [JobChange(r["id"], r["version"], STATUS[r["status"]]) for r in results if r]
        )
        return [r is not None or not w.values for r, w in zip(results, writes, strict=True)]

    async def partials(self, job_id: str, after: int, limit: int) -> list[Partial]:
        rows = await self._db.read(Q["partials"], job_id=job_id, after=after, limit=limit)
        return [_partial(r) for r in rows]

    async def partials_at(self, job_id: str, versions: Sequence[int]) -> list[Partial]:
        if not versions:
            return []
        rows = await self._db.read(Q["partials_at"], job_id=job_id, versions=list(versions))
        return [_partial(r) for r in rows]

    async def retry_job(self, job_id: str, now: datetime) -> RetryResult | None:
        rows = await self._db.fetch_retrying(Q["retry_job"], id=job_id, now=now)
        if rows:
            job = job_from_record(rows[0])
            self._db.notify([JobChange(job.id, job.version, job.status)])
            return RetryResult(job, RetryOutcome.RETRIED)
        rows = await self._db.read(Q["get_job_row"], id=job_id)
        if not rows:
            return None
        return RetryResult(job_from_record(rows[0]), RetryOutcome.CONFLICT)

    async def select_jobs(self, where: JobFilter, now: datetime, limit: int) -> list[str]:
        statuses = [Status(s).value for s in where.statuses] or None
        rows = await self._db.read(
            Q["select_jobs"],
            owner=where.owner,
            now=now,
            statuses=statuses,
            operation=where.operation,
            before=where.created_before,
            after=where.created_after,
            tag=where.tag,
            exclude=where.exclude,
            limit=limit,
        )
        return [str(r["id"]) for r in rows]
