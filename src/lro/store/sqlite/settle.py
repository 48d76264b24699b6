"""New jobs with dependencies on SQLite, inside their inserting transaction (the file's
write lock is held, so no dependency can end meanwhile): each waits, runs, or fails at
once, as `lro.store.depends.settle` decides. Used by every insert (jobs, batches)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import timedelta

from lro.models import WAITING_RUN_AT, NewJob
from lro.store.depends import DependencyState, dependency_failed_error, settle
from lro.store.sql import load_queries
from lro.store.sqlite.rows import PACKAGE, STATUS, seconds_to_us, to_json, to_us

Q = load_queries(PACKAGE, "dependencies.sql")


def settle_dependencies(conn: sqlite3.Connection, jobs: Sequence[NewJob], now_us: int) -> None:
    """Settle the just-inserted `jobs` that have dependencies, in order (a job may
    depend on an earlier one of the same insert)."""
    for new in jobs:
        if not new.depends_on:
            continue
        rows = conn.execute(Q["dependency_states"], {"ids": json.dumps(list(new.depends_on))})
        states = {
            r["id"]: DependencyState(
                STATUS[r["status"]],
                None
                if r["expires_at"] is None or r["finished_at"] is None
                else timedelta(microseconds=r["expires_at"] - r["finished_at"]),
            )
            for r in rows.fetchall()
        }
        outcome = settle(new, states)
        if outcome.failed_by is not None:
            error = dependency_failed_error(outcome.failed_by, outcome.failed_status)
            conn.execute(
                Q["fail_dependent"],
                {
                    "id": new.id,
                    "error": to_json(error.to_json()),
                    "now": now_us,
                    "expires_at": now_us + seconds_to_us(outcome.retention.total_seconds()),
                },
            )
        elif outcome.waiting_on:
            conn.execute(
                Q["wait_on"],
                {
                    "id": new.id,
                    "waiting_on": to_json(list(outcome.waiting_on)),
                    "waiting_run_at": to_us(WAITING_RUN_AT),
                },
            )
