"""Direct hand-off on PostgreSQL: a submit gives its job straight to a parked idle worker.

Why: with a claim, an idle worker's pickup is two trips through the database in a row
(the submit commits and notifies; the worker then claims). Each trip wakes sleeping
processes on both sides, and on a small machine those wake-ups are most of the latency.
A parked worker skips the second trip: the submit writes the job already leased to it and
notifies it with the whole row, so the worker starts the job as soon as the notification
arrives. Under load nobody is parked (workers park only when a claim comes back short),
and every job takes the claim path as before.

The pieces (0006_handoff.sql, queries `insert_jobs`, `claim_or_park`, `unpark_worker`):
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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lro.models import ErrorDetail, Job, Lease, ResultRef, utcnow
from lro.store.base import ClaimParams, HandoffSubscription
from lro.store.postgres_rows import STATUS, job_from_record

if TYPE_CHECKING:
    from lro.store.postgres import PostgresStore

log = logging.getLogger(__name__)

PREFIX = "H|"


class PostgresHandoffs:
    """The hand-off half of the PostgreSQL store (see the module docstring)."""

    def __init__(self, store: PostgresStore, queries: dict[str, str]) -> None:
        self._store = store
        self._q = queries
        self._subs: dict[str, HandoffSubscription] = {}
        self._retired: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.key: int | None = None
        """This process's liveness lock key while its LISTEN session holds it."""

    @property
    def lock_class(self) -> int:
        return int(self._q["handoff_lock_class"])

    # -- the LISTEN session's side ----------------------------------------------------------
    @staticmethod
    def new_key() -> int:
        return secrets.randbits(31)

    def session_started(self, key: int, *, reconnected: bool) -> None:
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
                    job = await self._store.get_job(str(data["id"]))
                if job is not None and job.lease_token is not None:
                    await self._store.release_jobs([Lease(job.id, job.lease_token)], utcnow())
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
            return await self._store.claim(params), False
        jobs = await self._store.claim(params, park_key=key)
        return jobs, len(jobs) < params.limit

    async def unpark(self, worker_id: str) -> bool:
        """Withdraw the offer. False when it was already taken: a job leased to this worker
        is on its way (or its notification was lost; see `orphaned`)."""
        rows = await self._store._fetch(self._q["unpark_worker"], worker_id)
        return bool(rows)

    async def orphaned(self, worker_id: str, known_tokens: Sequence[str]) -> list[Job]:
        """Jobs leased to this worker under tokens it does not hold."""
        rows = await self._store._fetch(
            self._q["orphaned_handoffs"], worker_id, list(known_tokens), read=True
        )
        return [job_from_record(r) for r in rows]


def _ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def job_from_json(d: dict[str, Any]) -> Job:
    """A `lro_jobs` row as `row_to_json` writes it (jsonb columns nested, timestamps ISO)."""
    result_ref, error = d.get("result_ref"), d.get("error")
    return Job(
        id=d["id"],
        operation=d["operation"],
        status=STATUS[d["status"]],
        params=d["params"],
        owner=d["owner"],
        priority=d["priority"],
        progress_pct=d["progress_pct"],
        step=d["step"],
        attempt=d["attempt"],
        max_attempts=d["max_attempts"],
        timeout_seconds=d["timeout_seconds"],
        run_at=_ts(d["run_at"]),  # type: ignore[arg-type]
        created_at=_ts(d["created_at"]),  # type: ignore[arg-type]
        updated_at=_ts(d["updated_at"]),  # type: ignore[arg-type]
        started_at=_ts(d["started_at"]),
        finished_at=_ts(d["finished_at"]),
        expires_at=_ts(d["expires_at"]),
        estimated_duration_seconds=d["estimated_duration_seconds"],
        version=d["version"],
        cancel_requested=d["cancel_requested"],
        result=d["result"],
        result_ref=None if result_ref is None else ResultRef.from_json(result_ref),
        error=None if error is None else ErrorDetail.from_json(error),
        callback_url=d["callback_url"],
        idempotency_key=d["idempotency_key"],
        request_fingerprint=d["request_fingerprint"],
        lease_token=d["lease_token"],
        lease_expires_at=_ts(d["lease_expires_at"]),
        worker_id=d["worker_id"],
    )


__all__ = ["PREFIX", "PostgresHandoffs", "job_from_json"]
