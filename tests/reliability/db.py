"""Reading a store's tables from the test, for verdicts the HTTP API does not show: how
many rows are still `processing` (a leaked lease), how many terminal events a job has
(exactly one terminal state), the version a late write must not move.

Read-only by intent. Queries are written once with `{p}` before table names (`lro_` on
PostgreSQL, nothing on SQLite) and `$n` placeholders (SQLite takes `?n`).
"""

from __future__ import annotations

import asyncio
import collections
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

TERMINAL = ("completed", "failed", "cancelled")


class Db:
    def __init__(self, backend: str, *, sqlite_path: Path | None = None, pg_url: str = "") -> None:
        self.backend = backend
        self.sqlite_path = sqlite_path
        self.pg_url = pg_url

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self.backend == "sqlite":
            assert self.sqlite_path is not None
            text = re.sub(r"\$(\d+)", r"?\1", sql.format(p=""))
            conn = sqlite3.connect(self.sqlite_path, timeout=30, isolation_level=None)
            try:
                conn.execute("PRAGMA query_only = 1")
                return [tuple(r) for r in conn.execute(text, args).fetchall()]
            finally:
                conn.close()
        return asyncio.run(self._pg_rows(sql.format(p="lro_"), args))

    async def _pg_rows(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(self.pg_url, timeout=10)
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    def scalar(self, sql: str, *args: Any) -> Any:
        rows = self.rows(sql, *args)
        return rows[0][0] if rows else None

    # -- verdict queries ------------------------------------------------------------------
    def status_counts(self) -> collections.Counter[str]:
        return collections.Counter(
            {s: int(n) for s, n in self.rows("SELECT status, count(*) FROM {p}jobs GROUP BY 1")}
        )

    def processing(self) -> int:
        """Rows still `processing`: after a drain, each one is a leaked lease."""
        return int(self.scalar("SELECT count(*) FROM {p}jobs WHERE status = 'processing'"))

    def unfinished(self) -> int:
        return int(
            self.scalar("SELECT count(*) FROM {p}jobs WHERE status IN ('queued', 'processing')")
        )

    def not_expired(self) -> int:
        """Terminal jobs whose `expires_at` is still ahead (by the database's clock)."""
        if self.backend == "sqlite":
            now = "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"
        else:
            now = "now()"
        return int(self.scalar(f"SELECT count(*) FROM {{p}}jobs WHERE expires_at > {now}"))

    def tombstones(self) -> int:
        return int(self.scalar("SELECT count(*) FROM {p}tombstones"))

    def job(self, job_id: str) -> dict[str, Any]:
        """One job's row: status, attempt, version, result (JSON text), error, lease."""
        cols = ("status", "attempt", "version", "result", "error", "lease_token", "worker_id")
        rows = self.rows(f"SELECT {', '.join(cols)} FROM {{p}}jobs WHERE id = $1", job_id)
        assert rows, f"job {job_id} has no row"
        return dict(zip(cols, rows[0], strict=True))

    def events(self, job_id: str) -> list[tuple[int, str, int]]:
        """(version, status, attempt) of every event of the job, in version order."""
        return [
            (int(v), str(s), int(a))
            for v, s, a in self.rows(
                "SELECT version, status, attempt FROM {p}events WHERE job_id = $1 ORDER BY 1",
                job_id,
            )
        ]

    def terminal_events(self) -> collections.Counter[str]:
        """How many events entered a terminal status, per job (more than one is a job that
        ended twice)."""
        return collections.Counter(
            {
                str(j): int(n)
                for j, n in self.rows(
                    "SELECT job_id, count(*) FROM {p}events"
                    " WHERE kind IN ('completed', 'failed', 'cancelled') GROUP BY 1"
                )
            }
        )

    def attempts(self) -> collections.Counter[int]:
        """How many jobs ended on each attempt number."""
        return collections.Counter(
            {
                int(a): int(n)
                for a, n in self.rows("SELECT attempt, count(*) FROM {p}jobs GROUP BY 1")
            }
        )
