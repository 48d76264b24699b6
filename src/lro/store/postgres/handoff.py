"""Direct hand-off on PostgreSQL: a submit gives its job straight to a parked idle worker.

Why: with a claim, an idle worker's pickup is two trips through the database in a row
(the submit commits and notifies; the worker then claims). Each trip wakes sleeping
processes on both sides, and on a small machine those wake-ups are most of the latency.
A parked worker skips the second trip: the submit writes the job already leased to it and
notifies it with the whole row, so the worker starts the job as soon as the notification
arrives. Under load nobody is parked (workers park only when a claim comes back short),
and every job takes the claim path as before.

The pieces (migrations/0006_handoff.sql; queries `insert_jobs` in sql/insert.sql,
`claim_or_park` in sql/jobs.sql, the rest in sql/handoff.sql):
* The store's LISTEN session holds the advisory lock (HANDOFF_LOCK_CLASS, `key`), a fresh
  key per session. A worker parks with that key; a submitter that can take the lock knows
  the session is gone and queues the job instead. So a job is only ever handed to a
  process whose notification connection was alive at the submitter's commit.
* One job per park: the handing submit deletes the row in its own transaction. A worker
  parks again with its next claim that comes back short (`claim_or_park`: the claim and
  the park are one statement).
* The notification `H|<worker_id>|<row as JSON>` travels on the store's one channel; a
  row too big for NOTIFY arrives as `{"id": ...}` and the worker reads it.
* A notification can still be lost with its connection (between the submitter's liveness
  probe and delivery). On every reconnect the worker asks for `orphaned` jobs, the ones
  leased to it that it does not know, and runs or releases them; if the worker is gone
  for good, its lease expires and the job is rescued like any other.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable, Sequence

from lro.models import Job, Lease, utcnow
from lro.store.postgres.connection import Database
from lro.store.postgres.jobs import PostgresJobs
from lro.store.postgres.listen import ListenSession
from lro.store.postgres.rows import PACKAGE, Conn, job_from_json, job_from_record
from lro.store.sql import load_numbered
from lro.store.types import ClaimParams, HandoffSubscription

log = logging.getLogger(__name__)

Q = load_numbered(PACKAGE, "handoff.sql")
PREFIX = "H|"
HANDOFF_LOCK_CLASS = int(Q["handoff_lock_class"].sql)


class PostgresHandoffs:
    """The hand-off part of the PostgreSQL store (see the module docstring): a route of
    the LISTEN session, claiming through the job verbs."""

    def __init__(self, db: Database, jobs: PostgresJobs, session: ListenSession) -> None:
        self._db = db
        self._jobs = jobs
        self._subs: dict[str, HandoffSubscription] = {}
        self._retired: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.key: int | None = None
        """This process's liveness lock key while its LISTEN session holds it."""
        session.route(PREFIX, self)

    # -- the LISTEN session's side ----------------------------------------------------------
    async def session_started(self, conn: Conn, *, reconnected: bool) -> None:
        """Take this session's liveness lock: held for as long as the session lives,
        released by the server when it dies."""
        while True:
            key = secrets.randbits(31)
            if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", HANDOFF_LOCK_CLASS, key):
                break
        self.key = key
        if reconnected:
            for sub in list(self._subs.values()):
                sub.on_reconnect()

    def session_lost(self) -> None:
        self.key = None

    def deliver(self, payload: str) -> None:
        """Route an `H|worker|row` notification to the worker it names, if it is ours."""
        worker_id, _, doc = payload[len(PREFIX) :].partition("|")
        sub = self._subs.get(worker_id)
        if sub is None:
            if worker_id in self._retired:
                self._release_retired(doc)
            return  # another process's worker
        try:
            data = json.loads(doc)
            sub.on_job(job_from_json(data) if "operation" in data else str(data["id"]))
        except (ValueError, KeyError, TypeError):
            log.exception("malformed hand-off for worker %s: %r", worker_id, doc[:200])

    def _release_retired(self, doc: str) -> None:
        """A hand-off to a worker of ours that has stopped (its park outlived it: the
        withdrawal failed, say, while the database was away). Give the job back to the
        queue unrun instead of leaving it to its lease."""

        async def release() -> None:
            try:
                data = json.loads(doc)
                job = job_from_json(data) if "operation" in data else None
                if job is None:
                    job = await self._jobs.get_job(str(data["id"]))
                if job is not None and job.lease_token is not None:
                    await self._jobs.release_jobs([Lease(job.id, job.lease_token)], utcnow())
            except Exception:
                log.exception("could not release a hand-off to a stopped worker")

        task = asyncio.get_running_loop().create_task(release())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the worker's side ------------------------------------------------------------------
    def subscribe(self, worker_id: str, sub: HandoffSubscription) -> Callable[[], None]:
        self._subs[worker_id] = sub

        def remove() -> None:
            if self._subs.pop(worker_id, None) is not None:
                self._retired.add(worker_id)

        return remove

    async def claim_or_park(self, params: ClaimParams) -> tuple[list[Job], bool]:
        """Claim; if the claim comes back short, the worker is parked by the same statement
        (True). Never parked while the LISTEN session is down: a submitter would find its
        lock free and not hand off anyway."""
        key = self.key
        if key is None or params.worker_id not in self._subs:
            return await self._jobs.claim(params), False
        jobs = await self._jobs.claim(params, park_key=key)
        return jobs, len(jobs) < params.limit

    async def unpark(self, worker_id: str) -> bool:
        """Withdraw the offer. False when it was already taken: a job leased to this worker
        is on its way (or its notification was lost; see `orphaned`)."""
        return bool(await self._db.fetch(Q["unpark_worker"], worker_id=worker_id))

    async def orphaned(self, worker_id: str, known_tokens: Sequence[str]) -> list[Job]:
        """Jobs leased to this worker under tokens it does not hold."""
        rows = await self._db.read(
            Q["orphaned_handoffs"], worker_id=worker_id, known_tokens=list(known_tokens)
        )
        return [job_from_record(r) for r in rows]


__all__ = ["HANDOFF_LOCK_CLASS", "PREFIX", "PostgresHandoffs"]
