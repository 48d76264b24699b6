"""New jobs with dependencies on PostgreSQL, inside their inserting transaction: the
dependencies are locked and flagged as having dependents (see sql/dependencies.sql), then
each new job waits, runs, or fails at once, as `lro.store.depends.settle` decides. Used by
every insert (jobs, batches)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from lro.models import WAITING_RUN_AT, NewJob, Status
from lro.store.depends import DependencyState, dependency_failed_error, settle
from lro.store.postgres.connection import run
from lro.store.postgres.rows import PACKAGE, STATUS, Conn
from lro.store.sql import load_numbered

Q = load_numbered(PACKAGE, "dependencies.sql", "rows.sql")


async def settle_dependencies(conn: Conn, jobs: Sequence[NewJob], now: datetime) -> None:
    """Settle the just-inserted `jobs` that have dependencies, in order (a job may
    depend on an earlier one of the same insert, whose fate this loop already knows)."""
    dependent = [j for j in jobs if j.depends_on]
    if not dependent:
        return
    inserted = {j.id for j in jobs}
    needed = {d for j in dependent for d in j.depends_on}
    states: dict[str, DependencyState] = {}
    # Every dependency is flagged, this insert's own too; only the others' states are read
    # (this loop decides the fate of the insert's own jobs as it goes).
    for r in await run(conn, Q["lock_dependencies"], ids=sorted(needed)):
        if r["id"] in inserted:
            continue
        ended = r["expires_at"] is not None and r["finished_at"] is not None
        retention = r["expires_at"] - r["finished_at"] if ended else None
        states[r["id"]] = DependencyState(STATUS[r["status"]], retention)
    for new in jobs:
        if new.id not in states:
            states[new.id] = DependencyState(Status.QUEUED)
        if not new.depends_on:
            continue
        outcome = settle(new, states)
        if outcome.failed_by is not None:
            error = dependency_failed_error(outcome.failed_by, outcome.failed_status)
            await run(
                conn,
                Q["fail_dependent"],
                id=new.id,
                error=json.dumps(error.to_json()),
                now=now,
                expires_at=now + outcome.retention,
            )
            states[new.id] = DependencyState(Status.FAILED, outcome.retention)
        elif outcome.waiting_on:
            await run(
                conn,
                Q["wait_on"],
                id=new.id,
                waiting_on=json.dumps(list(outcome.waiting_on)),
                waiting_run_at=WAITING_RUN_AT,
            )
