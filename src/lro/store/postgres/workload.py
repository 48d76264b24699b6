"""Workload control on PostgreSQL (`parts.Workload`; what it enforces: its docstring).

Why this shape:
* A limit is a count compared with a number, and under READ COMMITTED two claimers
  would both read "3 of 4 running" and both start one. So a limited claim takes an
  advisory lock per operation first (claimers of one operation take turns, for the
  milliseconds a claim lasts; other operations' claimers and the plain claim never
  wait), and reads the counts in later statements, whose snapshots see every claim
  that committed before the lock was granted. Everything else that can change a count
  only frees slots, so a claim may be cautious, never over the limit.
* Counts per (operation, key) live in `lro_limit_keys`, written only under that lock.
  The job writes that move them (submit, complete, fail, cancel, release, rescue, and
  whatever verb comes later) append a row to `lro_limit_deltas` by trigger instead, and
  the next claim folds them in: appending locks nothing, so a completion batch that
  spans keys never waits on a counter row nor deadlocks with another batch over two.
* The claim looks at keys, not jobs (sql/workload.sql `claim_round`): a key held back
  by its limit is one index entry however many jobs wait in it.
* The direct hand-off never hands out a job with a concurrency key (insert.py): it
  would start the job without this count. Limited operations always go through here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta

from lro.models import Job
from lro.store.postgres.connection import Database, run
from lro.store.postgres.rows import PACKAGE, Conn, Record, change_of, job_from_record
from lro.store.rules import held_back
from lro.store.sql import load_numbered
from lro.store.types import ClaimParams, LimitedOperation, LimitUsage

Q = load_numbered(PACKAGE, "workload.sql", "rows.sql")

ROUNDS = 8
"""Most rounds over the ready keys per operation and claim."""


class PostgresWorkload:
    """The workload part of the PostgreSQL store (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._turn = itertools.count()

    async def claim_limited(
        self, params: ClaimParams, operations: Sequence[LimitedOperation]
    ) -> list[Job]:
        if params.limit < 1 or not operations:
            return []
        start = next(self._turn) % len(operations)
        ordered = [*operations[start:], *operations[:start]]

        async def tx(conn: Conn) -> list[Job]:
            await run(conn, Q["lock_operations"], operations=[o.operation for o in ordered])
            jobs: list[Job] = []
            for spec in ordered:
                left = params.limit - len(jobs)
                if left <= 0:
                    break
                jobs += await _claim_operation(conn, spec, left, params)
            return jobs

        jobs = await self._db.tx(tx)
        self._db.notify([change_of(j) for j in jobs])
        return jobs

    async def adopt(self, operation: str, *, limited: bool) -> int:
        query = Q["adopt_keyed" if limited else "adopt_plain"]
        rows = await self._db.fetch_retrying(query, operation=operation)
        return len(rows)

    async def queued_count(self, operation: str, cap: int) -> int:
        rows = await self._db.read(Q["queued_count"], operation=operation, cap=cap)
        return int(rows[0][0])

    async def oldest_queued(self, owner: str | None, now: datetime) -> dict[str, datetime]:
        if owner is None:
            rows = await self._db.read(Q["oldest_queued_all"], now=now)
        else:
            rows = await self._db.read(Q["oldest_queued_owner"], owner=owner, now=now)
        return {r["operation"]: r["due_since"] for r in rows}

    async def usage(
        self, operations: Sequence[LimitedOperation], now: datetime
    ) -> list[LimitUsage]:
        # Counted from the jobs' own status (the indexes the claim uses), not from
        # lro_limit_keys, whose counts wait for the next claim to fold their deltas.
        found = []
        for spec in operations:
            op = spec.operation
            due_rows = await self._db.read(Q["usage_due"], operation=op, now=now)
            running_rows = await self._db.read(Q["usage_running"], operation=op)
            due = {r["key"]: int(r["n"]) for r in due_rows}
            running = {r["key"]: int(r["n"]) for r in running_rows}
            started = 0
            if spec.rate_limit is not None and spec.rate_period_seconds is not None:
                since = now - timedelta(seconds=spec.rate_period_seconds)
                rows = await self._db.read(Q["usage_started"], operation=op, since=since)
                started = int(rows[0]["n"])
            found.append(held_back(spec, due, running, started))
        return found


async def _claim_operation(
    conn: Conn, spec: LimitedOperation, left: int, params: ClaimParams
) -> list[Job]:
    now = params.now
    period = spec.rate_period_seconds if spec.rate_limit is not None else None
    since = now - timedelta(seconds=period) if period is not None else now
    fold: dict[str, object] = {
        "concurrency": spec.concurrency,
        "rate": spec.rate_limit,
        "since": since,
    }
    budget = await _fold(conn, spec.operation, left, fold)
    claimed: list[Job] = []
    # Turns: later than every earlier claim's (microseconds x 1000 + the pick position).
    turn = int(now.timestamp() * 1_000_000) * 1000
    for round_ in range(ROUNDS):
        if budget <= 0:
            break
        if round_ > 0:
            # This transaction's own claims are deltas still: fold them, so the next
            # round counts them against the keys' limits.
            await _fold(conn, spec.operation, budget, fold)
        rows = await run(
            conn,
            Q["claim_round_free" if spec.key_concurrency == 1 else "claim_round"],
            operation=spec.operation,
            key_limit=spec.key_concurrency,
            fair=spec.fair,
            budget=budget,
            now=now,
            lease_until=now + timedelta(seconds=params.lease_seconds),
            worker_id=params.worker_id,
            turn=turn,
        )
        got = _jobs_in_pick_order(rows)
        claimed += got
        seen_all = (int(rows[0]["key_count"]) if rows else 0) < budget
        turn += budget + 2
        budget -= len(got)
        if seen_all and (not got or not spec.fair):
            break  # every ready key offered all it could (fair: its share) this round
    if claimed and spec.rate_limit is not None:
        await run(conn, Q["record_starts"], operation=spec.operation, now=now, n=len(claimed))
    return claimed


async def _fold(conn: Conn, operation: str, left: int, limits: dict[str, object]) -> int:
    """Fold the visible deltas into the keys, drop emptied keys; the budget left."""
    [folded] = await run(conn, Q["fold"], operation=operation, left=left, **limits)
    if folded["idle_keys"]:
        await run(conn, Q["drop_idle_keys"], operation=operation, keys=folded["idle_keys"])
    return int(folded["budget"])


def _jobs_in_pick_order(rows: list[Record]) -> list[Job]:
    picked = [r for r in rows if r["pick_pos"] is not None and r["id"] is not None]
    picked.sort(key=lambda r: int(r["pick_pos"]))
    return [job_from_record(r) for r in picked]


__all__ = ["PostgresWorkload"]
