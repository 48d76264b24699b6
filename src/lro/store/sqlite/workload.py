"""Workload control on SQLite (`parts.Workload`; what it enforces: its docstring).

Why this shape: SQLite serialises writers, so a limited claim is one `BEGIN IMMEDIATE`
transaction in which nothing else can start or finish a job; the counts it reads are
exact for as long as it runs. The per-(operation, key) counts live in `limit_keys`, kept
by triggers on `jobs` (migrations/0008_concurrency.sql), so the claim looks at keys, not
jobs: a key held back by its limit costs one index entry, however many jobs wait in it,
and a key's next jobs are one probe of `jobs_limited`.

A claim per operation: budget = the free share of `concurrency` and of the rate window;
then rounds over the ready keys (least recently served first): each key offers its next
due jobs, up to its free slots (and, when `fair`, its share of the budget, so a round
takes about one job per key); the picks are claimed by seq, and every key offered moves
to the back of the turn order (one that offered nothing, its jobs not yet due, too, so
it cannot hold the front).
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from lro.models import Job
from lro.store.rules import held_back
from lro.store.sql import load_queries
from lro.store.sqlite.connection import INLINE_ROWS, Changes, Database
from lro.store.sqlite.rows import (
    PACKAGE,
    change_of,
    from_us,
    job_from_row,
    job_rows,
    seconds_to_us,
    to_us,
)
from lro.store.types import ClaimParams, LimitedOperation, LimitUsage

Q = load_queries(PACKAGE, "workload.sql", "rows.sql")

ROUNDS = 8
"""Most rounds over the ready keys per operation and claim."""


class SQLiteWorkload:
    """The workload part of the SQLite store (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._turn = itertools.count()

    async def claim_limited(
        self, params: ClaimParams, operations: Sequence[LimitedOperation]
    ) -> list[Job]:
        if params.limit < 1 or not operations:
            return []
        now_us = to_us(params.now)
        lease_until = now_us + seconds_to_us(params.lease_seconds)
        # Rotate which operation goes first, so one busy operation cannot take every slot
        # of this worker claim after claim.
        start = next(self._turn) % len(operations)
        ordered = [*operations[start:], *operations[:start]]

        def tx(conn: sqlite3.Connection) -> tuple[list[Job], Changes]:
            jobs: list[Job] = []
            for spec in ordered:
                left = params.limit - len(jobs)
                if left <= 0:
                    break
                jobs += _claim_operation(conn, spec, left, now_us, lease_until, params.worker_id)
            return jobs, [change_of(j) for j in jobs]

        return await self._db.write(tx, inline=params.limit <= INLINE_ROWS)

    async def adopt(self, operation: str, *, limited: bool) -> int:
        query = Q["adopt_keyed" if limited else "adopt_plain"]

        def tx(conn: sqlite3.Connection) -> tuple[int, Changes]:
            return conn.execute(query, {"operation": operation}).rowcount, []

        return await self._db.write(tx)

    async def queued_count(self, operation: str, cap: int) -> int:
        args = {"operation": operation, "cap": cap}
        row = await self._db.read(lambda c: c.execute(Q["queued_count"], args).fetchone())
        return int(row[0])

    async def oldest_queued(self, owner: str | None, now: datetime) -> dict[str, datetime]:
        query = Q["oldest_queued_all" if owner is None else "oldest_queued_owner"]
        args = {"owner": owner, "now": to_us(now)}
        rows = await self._db.read(lambda c: c.execute(query, args).fetchall())
        return {r["operation"]: from_us(r["due_since"]) for r in rows}

    async def usage(
        self, operations: Sequence[LimitedOperation], now: datetime
    ) -> list[LimitUsage]:
        now_us = to_us(now)

        def read(conn: sqlite3.Connection) -> list[LimitUsage]:
            conn.execute("BEGIN")  # every operation's figures from one snapshot
            try:
                return [_usage(conn, spec, now_us) for spec in operations]
            finally:
                conn.execute("COMMIT")

        return await self._db.read(read)


def _usage(conn: sqlite3.Connection, spec: LimitedOperation, now_us: int) -> LimitUsage:
    op = {"operation": spec.operation}
    due = {r["key"]: r["n"] for r in conn.execute(Q["usage_due"], {**op, "now": now_us})}
    running = {r["key"]: r["n"] for r in conn.execute(Q["usage_running"], op)}
    started = 0
    if spec.rate_limit is not None and spec.rate_period_seconds is not None:
        since = now_us - seconds_to_us(spec.rate_period_seconds)
        started = int(conn.execute(Q["started_since"], {**op, "since": since}).fetchone()[0])
    return held_back(spec, due, running, started)


def _budget(conn: sqlite3.Connection, spec: LimitedOperation, left: int, now_us: int) -> int:
    """How many of the operation's jobs may start now: its free concurrency and rate."""
    op = {"operation": spec.operation}
    budget = left
    if spec.concurrency is not None:
        running = conn.execute(Q["running_total"], op).fetchone()[0]
        budget = min(budget, spec.concurrency - running)
    if spec.rate_limit is not None and spec.rate_period_seconds is not None:
        since = now_us - seconds_to_us(spec.rate_period_seconds)
        conn.execute(Q["prune_starts"], {**op, "since": since})
        started = conn.execute(Q["started_since"], {**op, "since": since}).fetchone()[0]
        budget = min(budget, spec.rate_limit - started)
    return max(budget, 0)


def _claim_operation(
    conn: sqlite3.Connection,
    spec: LimitedOperation,
    left: int,
    now_us: int,
    lease_until: int,
    worker_id: str,
) -> list[Job]:
    budget = _budget(conn, spec, left, now_us)
    claimed: list[Job] = []
    turn = now_us * 1000  # later than every earlier claim's turns (microseconds x 1000)
    for _ in range(ROUNDS):
        if budget <= 0:
            break
        keys = conn.execute(
            Q["free_keys" if spec.key_concurrency == 1 else "ready_keys"],
            {"operation": spec.operation, "key_limit": spec.key_concurrency, "limit": budget},
        ).fetchall()
        if not keys:
            break
        share = math.ceil(budget / len(keys)) if spec.fair else budget
        offers: list[tuple[int, int, str, int, int, int]] = []
        for key in keys:
            cap = share
            if spec.key_concurrency is not None:
                cap = min(cap, spec.key_concurrency - key["running"])
            heads = conn.execute(
                Q["key_head"],
                {"operation": spec.operation, "key": key["key"], "now": now_us, "limit": cap},
            ).fetchall()
            for rank, (seq, priority, run_at) in enumerate(heads):
                offers.append((rank, key["served"], key["key"], -priority, run_at, seq))
        if spec.fair:
            offers.sort()  # one job per key per round, the keys in turn order
        else:
            offers.sort(key=lambda o: (o[3], o[4], o[5]))  # priority, then run_at, then insert
        picked = offers[:budget]
        for position, key in enumerate(keys):
            # Every key offered moves back; picked keys in the order they were served.
            conn.execute(
                Q["serve_key"],
                {"operation": spec.operation, "key": key["key"], "served": turn + position},
            )
        served_at = turn + len(keys)
        for position, offer in enumerate(picked):
            conn.execute(
                Q["serve_key"],
                {"operation": spec.operation, "key": offer[2], "served": served_at + position},
            )
        turn = served_at + len(picked) + 1
        seen_all = len(keys) < budget
        if not picked:
            if seen_all:
                break  # every ready key was offered and none had a due job
            continue
        rows = job_rows(
            conn.execute(
                Q["claim_seqs"],
                {
                    "seqs": json.dumps([o[5] for o in picked]),
                    "lease_until": lease_until,
                    "worker_id": worker_id,
                    "now": now_us,
                },
            )
        )
        order = {o[5]: i for i, o in enumerate(picked)}
        rows.sort(key=lambda r: order[r[0]])
        claimed += [job_from_row(r) for r in rows]
        budget -= len(rows)
        if seen_all and not spec.fair:
            break  # every ready key offered all it could
    if claimed and spec.rate_limit is not None:
        conn.execute(
            Q["record_starts"], {"operation": spec.operation, "now": now_us, "n": len(claimed)}
        )
    return claimed


__all__ = ["SQLiteWorkload"]
