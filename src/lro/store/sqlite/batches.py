"""Batches on SQLite (`parts.Batches`): the batch row and all its jobs in one `BEGIN
IMMEDIATE` transaction, so a batch is stored whole or not at all, and its idempotency key
is decided under the file's write lock."""

from __future__ import annotations

import base64
import sqlite3
from datetime import datetime

from lro.deliveries import target_of
from lro.errors import KeyReused
from lro.models import Job, Status
from lro.store.sql import load_queries
from lro.store.sqlite.connection import Changes, Database
from lro.store.sqlite.rows import (
    PACKAGE,
    STATUS,
    decode_cursor,
    from_us,
    job_from_row,
    job_rows,
    new_job_params,
    opt_time,
    to_us,
)
from lro.store.sqlite.settle import settle_dependencies
from lro.store.types import (
    Batch,
    BatchInserted,
    BatchPage,
    BatchQuery,
    JobChange,
    NewBatch,
)

Q = load_queries(PACKAGE, "batches.sql", "jobs.sql", "rows.sql", "search.sql")


_FIRST_PAGE = (2**63 - 1, "")  # a keyset cursor past every row (see list_batches)


def _read_batch(conn: sqlite3.Connection, batch_id: str) -> Batch | None:
    row = conn.execute(Q["get_batch"], {"id": batch_id}).fetchone()
    return None if row is None else _counted(conn, row)


def _counted(conn: sqlite3.Connection, row: sqlite3.Row) -> Batch:
    """The batch of `row` with its jobs counted."""
    batch_id = row["id"]
    counts: dict[Status, int] = {}
    progress, started, estimate = 0.0, False, None
    for r in conn.execute(Q["batch_counts"], {"id": batch_id}).fetchall():
        status = STATUS[r["status"]]
        counts[status] = r["n"]
        progress += r["progress"] or 0.0
        started = started or status is not Status.QUEUED or (r["attempts"] or 0) > 0
        if r["estimate"] is not None:
            estimate = max(estimate or 0.0, float(r["estimate"]))
    total = row["total"]
    return Batch(
        id=row["id"],
        owner=row["owner"],
        total=total,
        unfinished=row["unfinished"],
        callback_url=row["callback_url"],
        created_at=from_us(row["created_at"]),
        finished_at=opt_time(row["finished_at"]),
        expires_at=opt_time(row["expires_at"]),
        counts=counts,
        progress_pct=round(progress / total, 2) if total else 100.0,
        started=started,
        estimate_seconds=estimate,
    )


def _jobs(conn: sqlite3.Connection, batch_id: str) -> list[Job]:
    return [job_from_row(r) for r in job_rows(conn.execute(Q["batch_jobs"], {"id": batch_id}))]


def _cursor(last: Batch) -> str:
    """Opaque keyset cursor: the (created_at, id) of a page's last batch, spelled as the
    job list's (rows.encode_cursor), so rows.decode_cursor reads it."""
    raw = f"{to_us(last.created_at)}:{last.id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class SQLiteBatches:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert_batch(self, batch: NewBatch, now: datetime) -> BatchInserted:
        now_us = to_us(now)

        def tx(conn: sqlite3.Connection) -> tuple[BatchInserted, Changes]:
            if batch.idempotency_key is not None:
                held = conn.execute(
                    Q["batch_by_key"], {"owner": batch.owner, "key": batch.idempotency_key}
                ).fetchone()
                if held is not None:
                    live = held["idempotency_expires_at"] > now_us and (
                        held["expires_at"] is None or held["expires_at"] > now_us
                    )
                    if live and held["request_fingerprint"] != batch.request_fingerprint:
                        raise KeyReused(held["id"])  # rolls the transaction back
                    existing = _read_batch(conn, held["id"]) if live else None
                    if existing is not None:
                        return BatchInserted(existing, _jobs(conn, held["id"]), False), []
                    conn.execute(Q["release_batch_key"], {"id": held["id"]})
            conn.execute(
                Q["insert_batch"],
                {
                    "id": batch.id,
                    "owner": batch.owner,
                    "total": len(batch.jobs),
                    "callback_url": batch.callback_url,
                    "callback_target": None
                    if batch.callback_url is None
                    else target_of(batch.callback_url),
                    "now": now_us,
                    "idempotency_key": batch.idempotency_key,
                    "request_fingerprint": batch.request_fingerprint,
                    "idempotency_expires_at": None
                    if batch.idempotency_expires_at is None
                    else to_us(batch.idempotency_expires_at),
                },
            )
            jobs: list[Job] = []
            for new in batch.jobs:
                values, job = new_job_params(new, now_us)
                conn.execute(Q["insert_job"], values)
                jobs.append(job)
            if any(new.depends_on for new in batch.jobs):
                settle_dependencies(conn, batch.jobs, now_us)
                jobs = _jobs(conn, batch.id)
            stored = _read_batch(conn, batch.id)
            assert stored is not None
            changes = [JobChange(j.id, j.version, j.status) for j in jobs]
            return BatchInserted(stored, jobs, True), changes

        return await self._db.write(tx)

    async def get_batch(self, batch_id: str) -> Batch | None:
        def read(conn: sqlite3.Connection) -> Batch | None:
            conn.execute("BEGIN")  # the row and its counts from one snapshot
            try:
                return _read_batch(conn, batch_id)
            finally:
                conn.execute("COMMIT")

        return await self._db.read(read)

    async def batch_jobs(self, batch_id: str) -> list[Job]:
        return await self._db.read(lambda conn: _jobs(conn, batch_id))

    async def list_batches(self, query: BatchQuery, now: datetime) -> BatchPage:
        if query.limit < 1:
            raise ValueError("limit must be at least 1")
        after = _FIRST_PAGE if query.cursor is None else decode_cursor(query.cursor)
        args = {
            "owner": query.owner,
            "now": to_us(now),
            "after_created": after[0],
            "after_id": after[1],
            "limit": query.limit + 1,
        }

        def read(conn: sqlite3.Connection) -> list[Batch]:
            conn.execute("BEGIN")  # the rows and their counts from one snapshot
            try:
                rows = conn.execute(Q["list_batches"], args).fetchall()
                return [_counted(conn, row) for row in rows]
            finally:
                conn.execute("COMMIT")

        batches = await self._db.read(read)
        items = batches[: query.limit]
        more = len(batches) > query.limit
        return BatchPage(items, _cursor(items[-1]) if more and items else None)

    async def count_batches(self) -> dict[str, int]:
        row = await self._db.read(lambda c: c.execute(Q["batch_totals"]).fetchone())
        return {"open": int(row["open"]), "finished": int(row["finished"])}

    async def sweep_batches(self, now: datetime, limit: int) -> int:
        args = {"now": to_us(now), "limit": limit}

        def tx(conn: sqlite3.Connection) -> tuple[int, Changes]:
            return conn.execute(Q["sweep_batches"], args).rowcount, []

        return await self._db.write(tx)
