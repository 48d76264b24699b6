"""Batches on PostgreSQL (`parts.Batches`): the batch row and all its jobs in one
transaction, the jobs inserted by the same batch statement as any submit (insert.py)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from lro.deliveries import target_of
from lro.errors import KeyReused, StoreUnavailable
from lro.models import Job, Status
from lro.store.postgres.connection import Database, run
from lro.store.postgres.insert import Q as INSERT_Q
from lro.store.postgres.insert import insert_params, stored_job
from lro.store.postgres.rows import (
    PACKAGE,
    STATUS,
    Conn,
    Record,
    change_of,
    decode_cursor,
    job_from_record,
)
from lro.store.postgres.settle import settle_dependencies
from lro.store.sql import load_numbered
from lro.store.types import Batch, BatchInserted, BatchPage, BatchQuery, NewBatch

Q = load_numbered(PACKAGE, "batches.sql")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _batch(row: Record) -> Batch:
    counts: dict[Status, int] = {}
    progress, started, estimate = 0.0, False, None
    for status_name, n, pct, attempts, longest in json.loads(row["counts"]):
        status = STATUS[status_name]
        counts[status] = n
        progress += pct or 0.0
        started = started or status is not Status.QUEUED or (attempts or 0) > 0
        if longest is not None:
            estimate = max(estimate or 0.0, float(longest))
    total = row["total"]
    return Batch(
        id=row["id"],
        owner=row["owner"],
        total=total,
        unfinished=row["unfinished"],
        callback_url=row["callback_url"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        expires_at=row["expires_at"],
        counts=counts,
        progress_pct=round(progress / total, 2) if total else 100.0,
        started=started,
        estimate_seconds=estimate,
    )


async def _read(conn: Conn, batch_id: str) -> tuple[Batch, list[Job]] | None:
    rows = await run(conn, Q["get_batch"], id=batch_id)
    if not rows:
        return None
    jobs = await run(conn, Q["batch_jobs"], id=batch_id)
    return _batch(rows[0]), [job_from_record(r) for r in jobs]


def _cursor(last: Batch) -> str:
    """Opaque keyset cursor: the (created_at, id) of a page's last batch, spelled as the
    job list's (rows.encode_cursor), so rows.decode_cursor reads it."""
    micros = (last.created_at - EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{last.id}".encode()).decode().rstrip("=")


class PostgresBatches:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert_batch(self, batch: NewBatch, now: datetime) -> BatchInserted:
        async def tx(conn: Conn) -> BatchInserted:
            for _round in range(5):
                if batch.idempotency_key is not None:
                    replay = await self._replay(conn, batch, now)
                    if replay is not None:
                        return replay
                inserted = await run(
                    conn,
                    Q["insert_batch"],
                    id=batch.id,
                    owner=batch.owner,
                    total=len(batch.jobs),
                    callback_url=batch.callback_url,
                    callback_target=None
                    if batch.callback_url is None
                    else target_of(batch.callback_url),
                    now=now,
                    idempotency_key=batch.idempotency_key,
                    request_fingerprint=batch.request_fingerprint,
                    idempotency_expires_at=batch.idempotency_expires_at,
                )
                if inserted:
                    break
                # A concurrent duplicate committed the key first: replay it next round.
            else:
                raise StoreUnavailable("could not settle a batch's idempotency key")
            params = insert_params(batch.jobs, now)
            params["may_hand_off"] = False  # a batch is queued, and claimed in batches
            rows = await run(conn, INSERT_Q["insert_jobs"], **params)
            by_id = {r["id"]: r for r in rows}
            jobs = {j.id: stored_job(j, by_id[j.id], now) for j in batch.jobs}
            await settle_dependencies(conn, batch.jobs, now)
            stored = await _read(conn, batch.id)
            assert stored is not None
            if any(j.depends_on for j in batch.jobs):
                return BatchInserted(stored[0], stored[1], True)
            return BatchInserted(stored[0], [jobs[j.id] for j in batch.jobs], True)

        result = await self._db.tx(tx)
        if result.created:
            self._db.notify([change_of(j) for j in result.jobs])
        return result

    async def _replay(self, conn: Conn, batch: NewBatch, now: datetime) -> BatchInserted | None:
        """The live batch holding `batch`'s key (KeyReused for another request), or None
        after releasing a stale holder."""
        held = await run(conn, Q["batch_by_key"], owner=batch.owner, key=batch.idempotency_key)
        if not held:
            return None
        h = held[0]
        live = h["idempotency_expires_at"] > now and (
            h["expires_at"] is None or h["expires_at"] > now
        )
        if not live:
            await run(conn, Q["release_batch_key"], id=h["id"])
            return None
        if h["request_fingerprint"] != batch.request_fingerprint:
            raise KeyReused(h["id"])  # the caller's transaction rolls back
        stored = await _read(conn, h["id"])
        assert stored is not None
        return BatchInserted(stored[0], stored[1], False)

    async def get_batch(self, batch_id: str) -> Batch | None:
        rows = await self._db.read(Q["get_batch"], id=batch_id)
        return _batch(rows[0]) if rows else None

    async def batch_jobs(self, batch_id: str) -> list[Job]:
        rows = await self._db.read(Q["batch_jobs"], id=batch_id)
        return [job_from_record(r) for r in rows]

    async def list_batches(self, query: BatchQuery, now: datetime) -> BatchPage:
        if query.limit < 1:
            raise ValueError("limit must be at least 1")
        after: tuple[datetime | None, str] = (
            (None, "") if query.cursor is None else decode_cursor(query.cursor)
        )
        rows = await self._db.read(
            Q["list_batches"],
            owner=query.owner,
            now=now,
            after_created=after[0],
            after_id=after[1],
            limit=query.limit + 1,
        )
        items = [_batch(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return BatchPage(items, _cursor(items[-1]) if more and items else None)

    async def count_batches(self) -> dict[str, int]:
        [row] = await self._db.read(Q["batch_totals"])
        return {"open": int(row["open"]), "finished": int(row["finished"])}

    async def sweep_batches(self, now: datetime, limit: int) -> int:
        rows = await self._db.fetch_retrying(Q["sweep_batches"], now=now, limit=limit)
        return int(rows[0]["n"])
