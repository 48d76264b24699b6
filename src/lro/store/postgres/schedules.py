"""Schedules on PostgreSQL (`parts.Schedules`). A firing is one transaction: the
compare-and-set on `next_run_at` (under the schedule row's lock), the job and its firing
row commit together, so API and worker processes on many machines fire a due time once."""

from __future__ import annotations

import json
from datetime import datetime

from lro.models import Job, NewJob
from lro.store.postgres.connection import Database, run
from lro.store.postgres.insert import Q as INSERT_Q
from lro.store.postgres.insert import insert_params, stored_job
from lro.store.postgres.rows import PACKAGE, Conn, Record, change_of, dumps
from lro.store.postgres.settle import settle_dependencies
from lro.store.sql import load_numbered
from lro.store.types import Firing, Schedule

Q = load_numbered(PACKAGE, "schedules.sql")


def _schedule(r: Record) -> Schedule:
    tags = None if r["tags"] is None else json.loads(r["tags"])
    return Schedule(
        id=r["id"],
        owner=r["owner"],
        operation=r["operation"],
        params=json.loads(r["params"]),
        cron=r["cron"],
        interval_seconds=r["interval_seconds"],
        timezone=r["timezone"],
        overlap=r["overlap"],
        paused=r["paused"],
        tags=() if tags is None else tuple(tags),
        callback_url=r["callback_url"],
        next_run_at=r["next_run_at"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        last_run_at=r["last_run_at"],
        last_job_id=r["last_job_id"],
    )


async def _insert_job(conn: Conn, new: NewJob, now: datetime) -> Job:
    params = insert_params([new], now)
    params["may_hand_off"] = False  # kept simple: a scheduled job is claimed
    [row] = await run(conn, INSERT_Q["insert_jobs"], **params)
    if new.depends_on:
        await settle_dependencies(conn, [new], now)
    return stored_job(new, row, now)


class PostgresSchedules:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_schedule(self, schedule: Schedule, *, create: bool) -> Schedule | None:
        s = schedule
        rows = await self._db.fetch_retrying(
            Q["create_schedule" if create else "replace_schedule"],
            owner=s.owner,
            id=s.id,
            operation=s.operation,
            params=dumps(s.params),
            cron=s.cron,
            interval_seconds=s.interval_seconds,
            timezone=s.timezone,
            overlap=s.overlap,
            paused=s.paused,
            tags=dumps(list(s.tags)) if s.tags else None,
            callback_url=s.callback_url,
            next_run_at=s.next_run_at,
            now=s.updated_at,
        )
        return _schedule(rows[0]) if rows else None

    async def get_schedule(self, owner: str, schedule_id: str) -> Schedule | None:
        rows = await self._db.read(Q["get_schedule"], owner=owner, id=schedule_id)
        return _schedule(rows[0]) if rows else None

    async def list_schedules(self, owner: str | None) -> list[Schedule]:
        if owner is None:
            rows = await self._db.read(Q["list_all_schedules"])
        else:
            rows = await self._db.read(Q["list_schedules"], owner=owner)
        return [_schedule(r) for r in rows]

    async def delete_schedule(self, owner: str, schedule_id: str) -> bool:
        rows = await self._db.fetch_retrying(Q["delete_schedule"], owner=owner, id=schedule_id)
        return int(rows[0]["n"]) > 0

    async def due_schedules(self, now: datetime, limit: int) -> list[Schedule]:
        rows = await self._db.read(Q["due_schedules"], now=now, limit=limit)
        return [_schedule(r) for r in rows]

    async def fire(
        self, schedule: Schedule, next_run_at: datetime, job: NewJob, now: datetime
    ) -> Firing:
        key = {"owner": schedule.owner, "id": schedule.id}
        due = schedule.next_run_at

        async def tx(conn: Conn) -> Firing:
            rows = await run(
                conn, Q["advance"], **key, next_run_at=next_run_at, due_at=due, now=now
            )
            if not rows:
                return Firing(fired=False)
            if rows[0]["overlap"] == "skip" and rows[0]["last_job_id"] is not None:
                last = await run(conn, Q["job_status"], id=rows[0]["last_job_id"])
                if last and last[0]["status"] in ("queued", "processing"):
                    return Firing(fired=True)
            made = await _insert_job(conn, job, now)
            await run(conn, Q["record_firing"], **key, due_at=due, job_id=made.id)
            await run(conn, Q["set_last_job"], **key, job_id=made.id, due_at=due, now=now)
            return Firing(fired=True, job=made)

        firing = await self._db.tx(tx)
        if firing.job is not None:
            self._db.notify([change_of(firing.job)])
        return firing

    async def trigger(self, schedule: Schedule, job: NewJob, now: datetime) -> Job | None:
        key = {"owner": schedule.owner, "id": schedule.id}

        async def tx(conn: Conn) -> Job | None:
            if not await run(conn, Q["get_schedule"], **key):
                return None
            made = await _insert_job(conn, job, now)
            await run(conn, Q["record_firing"], **key, due_at=now, job_id=made.id)
            await run(conn, Q["set_last_job"], **key, job_id=made.id, due_at=now, now=now)
            return made

        made = await self._db.tx(tx)
        if made is not None:
            self._db.notify([change_of(made)])
        return made
