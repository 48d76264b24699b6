"""Schedules on SQLite (`parts.Schedules`). A firing is one `BEGIN IMMEDIATE`
transaction: the compare-and-set on `next_run_at`, the job and its firing row (whose key
is the firing's identity) commit together, so processes sharing the file fire a due time
once."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from lro.models import Job, NewJob, Status
from lro.store.sql import load_queries
from lro.store.sqlite.connection import Changes, Database
from lro.store.sqlite.rows import PACKAGE, from_us, new_job_params, opt_time, to_json, to_us
from lro.store.sqlite.settle import settle_dependencies
from lro.store.types import Firing, JobChange, Schedule

Q = load_queries(PACKAGE, "schedules.sql", "jobs.sql", "rows.sql", "search.sql")


def _schedule(r: Any) -> Schedule:
    return Schedule(
        id=r["id"],
        owner=r["owner"],
        operation=r["operation"],
        params=json.loads(r["params"]),
        cron=r["cron"],
        interval_seconds=r["interval_seconds"],
        timezone=r["timezone"],
        overlap=r["overlap"],
        paused=r["paused"] == 1,
        tags=() if r["tags"] is None else tuple(json.loads(r["tags"])),
        callback_url=r["callback_url"],
        next_run_at=from_us(r["next_run_at"]),
        created_at=from_us(r["created_at"]),
        updated_at=from_us(r["updated_at"]),
        last_run_at=opt_time(r["last_run_at"]),
        last_job_id=r["last_job_id"],
    )


def _insert_job(conn: sqlite3.Connection, new: NewJob, now_us: int) -> Job:
    values, job = new_job_params(new, now_us)
    conn.execute(Q["insert_job"], values)
    if new.depends_on:
        settle_dependencies(conn, [new], now_us)
    return job


class SQLiteSchedules:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_schedule(self, schedule: Schedule, *, create: bool) -> Schedule | None:
        s = schedule
        args = {
            "owner": s.owner,
            "id": s.id,
            "operation": s.operation,
            "params": to_json(s.params),
            "cron": s.cron,
            "interval_seconds": s.interval_seconds,
            "timezone": s.timezone,
            "overlap": s.overlap,
            "paused": 1 if s.paused else 0,
            "tags": to_json(list(s.tags)) if s.tags else None,
            "callback_url": s.callback_url,
            "next_run_at": to_us(s.next_run_at),
            "now": to_us(s.updated_at),
        }

        def tx(conn: sqlite3.Connection) -> tuple[Schedule | None, Changes]:
            cur = conn.execute(Q["create_schedule" if create else "replace_schedule"], args)
            if create and cur.rowcount == 0:
                return None, []
            row = conn.execute(Q["get_schedule"], {"owner": s.owner, "id": s.id}).fetchone()
            return _schedule(row), []

        return await self._db.write(tx)

    async def get_schedule(self, owner: str, schedule_id: str) -> Schedule | None:
        args = {"owner": owner, "id": schedule_id}
        row = await self._db.read(lambda c: c.execute(Q["get_schedule"], args).fetchone())
        return None if row is None else _schedule(row)

    async def list_schedules(self, owner: str | None) -> list[Schedule]:
        query = Q["list_schedules" if owner is not None else "list_all_schedules"]
        rows = await self._db.read(lambda c: c.execute(query, {"owner": owner}).fetchall())
        return [_schedule(r) for r in rows]

    async def delete_schedule(self, owner: str, schedule_id: str) -> bool:
        args = {"owner": owner, "id": schedule_id}

        def tx(conn: sqlite3.Connection) -> tuple[bool, Changes]:
            gone = conn.execute(Q["delete_schedule"], args).rowcount > 0
            conn.execute(Q["delete_firings"], args)
            return gone, []

        return await self._db.write(tx)

    async def due_schedules(self, now: datetime, limit: int) -> list[Schedule]:
        args = {"now": to_us(now), "limit": limit}
        rows = await self._db.read(lambda c: c.execute(Q["due_schedules"], args).fetchall())
        return [_schedule(r) for r in rows]

    async def fire(
        self, schedule: Schedule, next_run_at: datetime, job: NewJob, now: datetime
    ) -> Firing:
        now_us = to_us(now)
        key = {"owner": schedule.owner, "id": schedule.id}
        due_us = to_us(schedule.next_run_at)

        def tx(conn: sqlite3.Connection) -> tuple[Firing, Changes]:
            row = conn.execute(
                Q["advance"],
                {**key, "next_run_at": to_us(next_run_at), "due_at": due_us, "now": now_us},
            ).fetchone()
            if row is None:
                return Firing(fired=False), []
            if row["overlap"] == "skip" and row["last_job_id"] is not None:
                last = conn.execute(Q["job_status"], {"id": row["last_job_id"]}).fetchone()
                if last is not None and last["status"] in ("queued", "processing"):
                    return Firing(fired=True), []
            made = _insert_job(conn, job, now_us)
            conn.execute(Q["record_firing"], {**key, "due_at": due_us, "job_id": made.id})
            conn.execute(
                Q["set_last_job"], {**key, "job_id": made.id, "due_at": due_us, "now": now_us}
            )
            return Firing(fired=True, job=made), [JobChange(made.id, 1, Status.QUEUED)]

        return await self._db.write(tx)

    async def trigger(self, schedule: Schedule, job: NewJob, now: datetime) -> Job | None:
        now_us = to_us(now)
        key = {"owner": schedule.owner, "id": schedule.id}

        def tx(conn: sqlite3.Connection) -> tuple[Job | None, Changes]:
            if conn.execute(Q["get_schedule"], key).fetchone() is None:
                return None, []
            made = _insert_job(conn, job, now_us)
            conn.execute(Q["record_trigger"], {**key, "due_at": now_us, "job_id": made.id})
            conn.execute(
                Q["set_last_job"], {**key, "job_id": made.id, "due_at": now_us, "now": now_us}
            )
            return made, [JobChange(made.id, 1, Status.QUEUED)]

        return await self._db.write(tx)
