"""Long jobs on SQLite (`lro.store.steps.Steps`): steps, checkpoints, partials, retry.

Every fenced write is one `BEGIN IMMEDIATE` transaction that first reads the job's lease
(`fence`) and then writes: SQLite has one writer, so nothing can take the lease between
the two. A batch of checkpoints or partials from many jobs is one transaction, which is
what makes a checkpoint per loop item affordable (the worker groups them).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lro.models import Lease, Status
from lro.store.sql import load_queries
from lro.store.sqlite.connection import Changes, Database
from lro.store.sqlite.rows import (
    PACKAGE,
    STATUS,
    change_of,
    from_us,
    job_from_row,
    job_row,
    opt_time,
    to_json,
    to_us,
)
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

Q = load_queries(PACKAGE, "steps.sql", "rows.sql")


def _attempt(conn: sqlite3.Connection, lease: Lease) -> int | None:
    """The attempt number, when the lease is held (the fence)."""
    row = conn.execute(Q["fence"], {"job_id": lease.job_id, "token": lease.token}).fetchone()
    return None if row is None else int(row["attempt"])


def _partial(row: Any) -> Partial:
    return Partial(row["seq"], row["version"], json.loads(row["data"]), from_us(row["created_at"]))


class SQLiteSteps:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def resume(self, job_id: str) -> Resume:
        args = {"job_id": job_id}

        def read(c: sqlite3.Connection) -> Resume:
            c.execute("BEGIN")
            try:
                cp = c.execute(Q["resume_checkpoint"], args).fetchone()
                steps = c.execute(Q["resume_steps"], args).fetchall()
                size = c.execute(Q["resume_partial_bytes"], args).fetchone()
            finally:
                c.execute("COMMIT")
            return Resume(
                found=cp is not None,
                checkpoint=None if cp is None else json.loads(cp["value"]),
                completed={r["name"]: json.loads(r["result"]) for r in steps},
                partial_bytes=int(size["bytes"]),
            )

        return await self._db.read_inline(read)

    async def list_steps(self, job_id: str) -> list[StepRecord]:
        args = {"job_id": job_id}
        rows = await self._db.read(lambda c: c.execute(Q["list_steps"], args).fetchall())
        return [
            StepRecord(
                r["name"],
                r["status"],
                r["attempt"],
                from_us(r["started_at"]),
                opt_time(r["finished_at"]),
                None if r["result"] is None else json.loads(r["result"]),
            )
            for r in rows
        ]

    async def _fenced(self, lease: Lease, query: str, args: dict[str, Any]) -> bool:
        def tx(conn: sqlite3.Connection) -> tuple[bool, Changes]:
            attempt = _attempt(conn, lease)
            if attempt is None:
                return False, []
            conn.execute(query, {**args, "job_id": lease.job_id, "attempt": attempt})
            return True, []

        return await self._db.write(tx)

    async def start_step(self, lease: Lease, name: str, now: datetime) -> bool:
        return await self._fenced(lease, Q["start_step"], {"name": name, "now": to_us(now)})

    async def finish_step(self, lease: Lease, name: str, result: JSON, now: datetime) -> bool:
        args = {"name": name, "now": to_us(now), "result": to_json(result)}
        return await self._fenced(lease, Q["finish_step"], args)

    async def fail_step(self, lease: Lease, name: str, now: datetime) -> bool:
        return await self._fenced(lease, Q["fail_step"], {"name": name, "now": to_us(now)})

    async def set_checkpoints(self, writes: Sequence[CheckpointWrite], now: datetime) -> list[bool]:
        if not writes:
            return []
        now_us = to_us(now)

        def tx(conn: sqlite3.Connection) -> tuple[list[bool], Changes]:
            held: list[bool] = []
            for w in writes:
                attempt = _attempt(conn, w.lease)
                held.append(attempt is not None)
                if attempt is not None:
                    args = {
                        "job_id": w.lease.job_id,
                        "value": to_json(w.value),
                        "attempt": attempt,
                        "now": now_us,
                    }
                    conn.execute(Q["set_checkpoint"], args)
            return held, []

        return await self._db.write(tx)

    async def append_partials(self, writes: Sequence[PartialWrite], now: datetime) -> list[bool]:
        if not writes:
            return []
        now_us = to_us(now)

        def tx(conn: sqlite3.Connection) -> tuple[list[bool], Changes]:
            held: list[bool] = []
            changes: dict[str, JobChange] = {}
            for w in writes:
                job_id = w.lease.job_id
                if _attempt(conn, w.lease) is None:
                    held.append(False)
                    continue
                held.append(True)
                for value in w.values:
                    row = conn.execute(
                        Q["bump_for_partial"], {"job_id": job_id, "now": now_us}
                    ).fetchone()
                    version = int(row["version"])
                    args = {"job_id": job_id, "version": version}
                    conn.execute(Q["mark_partial"], args)
                    conn.execute(
                        Q["insert_partial"], {**args, "data": to_json(value), "now": now_us}
                    )
                    changes[job_id] = JobChange(job_id, version, STATUS[row["status"]])
            return held, list(changes.values())

        return await self._db.write(tx)

    async def partials(self, job_id: str, after: int, limit: int) -> list[Partial]:
        args = {"job_id": job_id, "after": after, "limit": limit}
        rows = await self._db.read(lambda c: c.execute(Q["partials"], args).fetchall())
        return [_partial(r) for r in rows]

    async def partials_at(self, job_id: str, versions: Sequence[int]) -> list[Partial]:
        if not versions:
            return []
        args = {"job_id": job_id, "versions": json.dumps(list(versions))}
        rows = await self._db.read_inline(lambda c: c.execute(Q["partials_at"], args).fetchall())
        return [_partial(r) for r in rows]

    async def retry_job(self, job_id: str, now: datetime) -> RetryResult | None:
        args = {"id": job_id, "now": to_us(now)}

        def tx(conn: sqlite3.Connection) -> tuple[RetryResult | None, Changes]:
            row = job_row(conn.execute(Q["retry_job"], args))
            if row is not None:
                job = job_from_row(row)
                return RetryResult(job, RetryOutcome.RETRIED), [change_of(job)]
            row = job_row(conn.execute(Q["get_job_row"], {"id": job_id}))
            if row is None:
                return None, []
            return RetryResult(job_from_row(row), RetryOutcome.CONFLICT), []

        return await self._db.write(tx)

    async def select_jobs(self, where: JobFilter, now: datetime, limit: int) -> list[str]:
        statuses = [Status(s).value for s in where.statuses] or None
        args = {
            "owner": where.owner,
            "now": to_us(now),
            "statuses": None if statuses is None else json.dumps(statuses),
            "operation": where.operation,
            "before": None if where.created_before is None else to_us(where.created_before),
            "after": None if where.created_after is None else to_us(where.created_after),
            "tag": where.tag,
            "exclude": where.exclude,
            "limit": limit,
        }
        rows = await self._db.read(lambda c: c.execute(Q["select_jobs"], args).fetchall())
        return [str(r["id"]) for r in rows]
