"""The job verbs of the `Store` protocol on Redis (what each writes: lro.store.base).

Each verb is one Lua script (lua/*.lua behind lua/common.lua): Redis runs a script
alone, so it is the verb's transaction, and it moves BullMQ's side of the job with
lro's (common.lua's `bull_*`). Two verbs need Python between their read and their
write, because the decision is a rule of `lro.store.rules`: a submit with an idempotency
key (WATCH on the keys, the rule, then MULTI with lro's insert and BullMQ's own add
script), and the rescue of lost leases (read, `rescue_of`, then a script that re-checks
what was read).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import NoScriptError, WatchError

from lro.errors import StoreUnavailable
from lro.models import (
    Completion,
    Failure,
    HeartbeatResult,
    Inserted,
    Job,
    Lease,
    ListQuery,
    NewJob,
    Page,
    ProgressUpdate,
    ResultRef,
    Status,
    Swept,
    Tombstone,
)
from lro.store.redis.bull import add_script_call
from lro.store.redis.connection import Connection
from lro.store.redis.rows import (
    STATUS,
    created_member,
    decode_cursor,
    delivery_id,
    encode_cursor,
    event_from_json,
    from_us,
    hash_of,
    job_from_hash,
    new_job_hash,
    opt_time,
    to_json,
    us_text,
)
from lro.store.rules import idempotent_replay, rescue_of
from lro.store.types import (
    CancelOutcome,
    CancelResult,
    ClaimParams,
    DeleteResult,
    JobCount,
    JobEvent,
    RescueParams,
    SweepParams,
)

_INSERT_TRIES = 100


def _later(now: datetime, seconds: float) -> str:
    return us_text(now + timedelta(seconds=seconds))


def _jobs(raw: Sequence[Any]) -> list[Job | None]:
    return [job_from_hash(hash_of(r)) if r else None for r in raw]


def _may_hand_off(new: NewJob) -> bool:
    """A job the submit may hand to a parked worker (lro.store.base's hand-off rule): its
    limits are counted only in the claim, and a job that waits on others is not due."""
    return new.concurrency_key is None and not new.depends_on


class RedisJobs:
    """The job verbs, on a `Connection` (see the module docstring)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _idem_key(self, owner: str, key: str) -> str:
        return self._conn.key(f"idem:{len(owner)}:{owner}:{key}")

    # -- submit -------------------------------------------------------------------------
    async def insert_jobs(self, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        if not jobs:
            return []
        for _ in range(_INSERT_TRIES):
            try:
                return await self._insert(jobs, now)
            except WatchError:
                # A concurrent submit took or released one of the keys: decide again.
                await asyncio.sleep(0)
            except NoScriptError:
                # The server lost its script cache (restarted, SCRIPT FLUSH): load them and
                # run the whole transaction again; what did run of it is skipped then.
                with self._conn.errors():
                    await self._conn.load_scripts()
        raise StoreUnavailable("too much contention on idempotency keys; try again")

    async def _insert(self, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        conn = self._conn
        async with conn.transaction() as txn:
            pipe: Any = txn  # redis-py's pipeline types replies `bytes | str`; these are str
            idem = sorted(
                {
                    self._idem_key(j.owner, j.idempotency_key)
                    for j in jobs
                    if j.idempotency_key is not None
                }
            )
            holders: dict[str, dict[str, str]] = {}
            if idem:
                await pipe.watch(*idem)
                for idem_key in idem:
                    holder_id = await pipe.get(idem_key)
                    if holder_id is None:
                        continue
                    await pipe.watch(conn.key(f"job:{holder_id}"))
                    h = await pipe.hgetall(conn.key(f"job:{holder_id}"))
                    if h:
                        holders[idem_key] = h
            out: list[Inserted] = []
            writes: list[tuple[NewJob, dict[str, str]]] = []
            release: list[str] = []
            in_batch: dict[str, tuple[Job, datetime | None]] = {}
            for new in jobs:
                k: str | None = None
                if new.idempotency_key is not None:
                    k = self._idem_key(new.owner, new.idempotency_key)
                    if k in in_batch:
                        first, until = in_batch[k]
                        replay = idempotent_replay(first, until, new, now)
                        if replay is not None:
                            out.append(replay)
                            continue
                    elif k in holders:
                        h = holders[k]
                        replay = idempotent_replay(
                            job_from_hash(h), opt_time(h.get("idempotency_expires_at")), new, now
                        )
                        if replay is not None:
                            out.append(replay)
                            continue
                        release.append(h["id"])
                fields = new_job_hash(new, now, new.queue)
                job = job_from_hash(fields)
                out.append(Inserted(job, created=True, accepted=job))
                writes.append((new, fields))
                if k is not None:
                    in_batch[k] = (job, new.idempotency_expires_at)
            if not writes:
                return out
            pipe.multi()
            # BullMQ's add first: a job handed off is then moved on to BullMQ's active list
            # by lro's insert, as a claim would move it.
            for new, fields in writes:
                name, bkeys, argv = add_script_call(
                    new, fields, conn.settings.bull_prefix, new.queue
                )
                conn.queue_bullmq(pipe, name, bkeys, argv)
            args: dict[str, Any] = {"jobs": [f for _, f in writes], "release": release}
            if len(jobs) == 1 and len(writes) == 1 and _may_hand_off(writes[0][0]):
                args["handoff"] = {"token": secrets.token_hex(16)}
            conn.queue_script(pipe, "insert", args)
            replies = await pipe.execute()
        handed = {row[0]: job_from_hash(hash_of(row[2])) for row in replies[-1] or []}
        if handed:
            out = [
                Inserted(handed[i.job.id], created=True, accepted=i.job)
                if i.created and i.job.id in handed
                else i
                for i in out
            ]
        conn.dispatch(
            [[i.job.id, str(i.job.version), i.job.status.value, "0"] for i in out if i.created]
        )
        return out

    # -- read ---------------------------------------------------------------------------
    async def get_job(self, job_id: str) -> Job | None:
        self._conn._check()
        with self._conn.errors():
            h = await self._conn.client.hgetall(self._conn.key(f"job:{job_id}"))
        return job_from_hash(h) if h else None

    async def get_tombstone(self, job_id: str, now: datetime) -> Tombstone | None:
        self._conn._check()
        with self._conn.errors():
            h = await self._conn.client.hgetall(self._conn.key(f"tomb:{job_id}"))
        if not h or int(h["keep_until"]) <= int(us_text(now)):
            return None
        return Tombstone(job_id, h["owner"], from_us(h["expired_at"]))

    async def list_jobs(self, query: ListQuery, now: datetime) -> Page:
        if query.limit < 1:
            raise ValueError("limit must be at least 1")
        before = "+"
        if query.cursor is not None:
            created, job_id = decode_cursor(query.cursor)
            before = "(" + created_member(created, job_id)
        index = "all" if query.owner is None else f"owner:{query.owner}"
        args = {
            "index": index,
            "before": before,
            "limit": query.limit + 1,
            "now": us_text(now),
            "statuses": [Status(s).value for s in query.statuses] if query.statuses else None,
            "operation": query.operation,
        }
        rows = await self._conn.run("list", args)
        jobs = [job_from_hash(hash_of(r)) for r in rows]
        items = jobs[: query.limit]
        more = len(jobs) > query.limit
        return Page(items, encode_cursor(items[-1]) if more and items else None)

    async def events_after(self, job_id: str, after_version: int) -> list[JobEvent]:
        self._conn._check()
        with self._conn.errors():
            raw = await self._conn.client.lrange(
                self._conn.key(f"job:{job_id}:events"), max(0, after_version), -1
            )
        return [event_from_json(job_id, r) for r in raw]

    async def jobs_with_events(
        self, wanted: Sequence[tuple[str, int]]
    ) -> list[tuple[Job | None, list[JobEvent]]]:
        if not wanted:
            return []
        conn = self._conn
        conn._check()
        with conn.errors():
            async with conn.client.pipeline(transaction=True) as pipe:
                for job_id, after in wanted:
                    pipe.lrange(conn.key(f"job:{job_id}:events"), max(0, after), -1)
                    pipe.hgetall(conn.key(f"job:{job_id}"))
                replies = await pipe.execute()
        answers: list[tuple[Job | None, list[JobEvent]]] = []
        for (job_id, _), raw, h in zip(wanted, replies[::2], replies[1::2], strict=True):
            if h:
                answers.append((job_from_hash(h), [event_from_json(job_id, r) for r in raw]))
            else:
                answers.append((None, []))
        return answers

    async def recent_durations(self, operation: str, limit: int = 20) -> list[float]:
        self._conn._check()
        with self._conn.errors():
            raw = await self._conn.client.lrange(
                self._conn.key(f"durations:{operation}"), 0, limit - 1
            )
        return [float(r) for r in raw]

    async def job_counts(self, owner: str | None, now: datetime) -> list[JobCount]:
        index = "all" if owner is None else f"owner:{owner}"
        flat = await self._conn.run("counts", {"index": index, "now": us_text(now)})
        counts = []
        for key, n in zip(flat[::2], flat[1::2], strict=True):
            operation, _, status = key.partition("\0")
            counts.append(JobCount(operation, STATUS[status], int(n)))
        return sorted(counts, key=lambda c: (c.operation, c.status.value))

    async def oldest_queued(self, now: datetime) -> dict[str, datetime]:
        flat = await self._conn.run("oldest_queued", {"now": us_text(now)})
        return {op: from_us(t) for op, t in zip(flat[::2], flat[1::2], strict=True)}

    # -- worker -------------------------------------------------------------------------
    async def claim_jobs(self, params: ClaimParams) -> list[Job]:
        if params.limit < 1:
            return []
        if params.operations is not None and not params.operations:
            return []
        rows, changes, _ = await self._conn.run("claim", self.claim_args(params))
        self._conn.dispatch(changes)
        return [job_from_hash(hash_of(r)) for r in rows]

    def claim_args(self, params: ClaimParams) -> dict[str, Any]:
        """The claim script's arguments (the hand-off part adds its park to them)."""
        return {
            "now": us_text(params.now),
            "lease_until": _later(params.now, params.lease_seconds),
            "lock_ms": max(1, int(params.lease_seconds * 1000)),
            "worker_id": params.worker_id,
            "limit": params.limit,
            "operations": None if params.operations is None else list(params.operations),
            "tokens": [secrets.token_hex(16) for _ in range(params.limit)],
        }

    async def heartbeat(
        self, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> list[HeartbeatResult]:
        if not leases:
            return []
        args = {
            "lease_until": _later(now, lease_seconds),
            "lock_ms": max(1, int(lease_seconds * 1000)),
            "leases": [[le.job_id, le.token] for le in leases],
        }
        raw = await self._conn.run("heartbeat", args)
        return [
            HeartbeatResult(le.job_id, alive == 1, alive == 1 and requested == 1)
            for le, (alive, requested) in zip(leases, raw, strict=True)
        ]

    async def set_progress(self, updates: Sequence[ProgressUpdate], now: datetime) -> list[bool]:
        if not updates:
            return []
        args = {
            "now": us_text(now),
            "updates": [
                [u.lease.job_id, u.lease.token, repr(float(u.progress_pct)), u.step, delivery_id()]
                for u in updates
            ],
        }
        held, changes = await self._conn.run("progress", args)
        self._conn.dispatch(changes)
        return [h == 1 for h in held]

    async def _finish(
        self, items: list[dict[str, Any]], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        if not items:
            return []
        args = {"now": us_text(now), "expires_at": _later(now, retention_seconds), "items": items}
        rows, changes = await self._conn.run("finish", args)
        self._conn.dispatch(changes)
        return _jobs(rows)

    async def complete_jobs(
        self, completions: Sequence[Completion], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        items = []
        for c in completions:
            item: dict[str, Any] = {
                "kind": "complete",
                "id": c.lease.job_id,
                "token": c.lease.token,
                "did": delivery_id(),
                "returnvalue": "null" if c.result is None else to_json(c.result),
            }
            if c.result is not None:
                item["result"] = to_json(c.result)
            if c.result_ref is not None:
                item["result_ref"] = to_json(c.result_ref.to_json())
                item["returnvalue"] = to_json({"result_ref": c.result_ref.to_json()})
            if c.step is not None:
                item["step"] = c.step
            items.append(item)
        return await self._finish(items, now, retention_seconds)

    async def fail_jobs(
        self, failures: Sequence[Failure], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        items = []
        for f in failures:
            item: dict[str, Any] = {
                "id": f.lease.job_id,
                "token": f.lease.token,
                "did": delivery_id(),
                "error": to_json(f.error.to_json()),
                "reason": f.error.detail,
            }
            if f.retry_at is not None:
                item.update(kind="retry", run_at=us_text(f.retry_at))
            else:
                item["kind"] = "fail"
            items.append(item)
        return await self._finish(items, now, retention_seconds)

    async def cancel_jobs(
        self, leases: Sequence[Lease], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        items = [
            {"kind": "cancel", "id": le.job_id, "token": le.token, "did": delivery_id()}
            for le in leases
        ]
        return await self._finish(items, now, retention_seconds)

    async def release_jobs(self, leases: Sequence[Lease], now: datetime) -> list[Job | None]:
        items = [
            {"kind": "release", "id": le.job_id, "token": le.token, "did": delivery_id()}
            for le in leases
        ]
        return await self._finish(items, now, 0)

    async def rescue_expired(self, params: RescueParams) -> list[Job]:
        conn = self._conn
        conn._check()
        now_us = int(us_text(params.now))
        with conn.errors():
            ids = await conn.client.zrangebyscore(
                conn.key("leases"), "-inf", f"({now_us}", start=0, num=params.limit
            )
            if not ids:
                return []
            async with conn.client.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hgetall(conn.key(f"job:{job_id}"))
                found = await pipe.execute()
        items = []
        for h in found:
            if not h or h.get("status") != "processing" or "lease_expires_at" not in h:
                continue
            rescue = rescue_of(
                operation=h["operation"],
                attempt=int(h["attempt"]),
                max_attempts=int(h["max_attempts"]),
                cancel_requested=h.get("cancel_requested") == "1",
                now=params.now,
                retry=params.retry,
            )
            item: dict[str, Any] = {
                "id": h["id"],
                "seen": h["lease_expires_at"],
                "status": rescue.status.value,
                "did": delivery_id(),
            }
            if rescue.run_at is not None:
                item["run_at"] = us_text(rescue.run_at)
            if rescue.error is not None:
                item["error"] = to_json(rescue.error.to_json())
                item["reason"] = rescue.error.detail
            items.append(item)
        if not items:
            return []
        args = {
            "now": us_text(params.now),
            "expires_at": _later(params.now, params.retention_seconds),
            "items": items,
        }
        rows, changes = await conn.run("rescue", args)
        conn.dispatch(changes)
        return [job_from_hash(hash_of(r)) for r in rows]

    # -- client actions -------------------------------------------------------------------
    async def request_cancel(
        self, job_id: str, now: datetime, retention_seconds: float
    ) -> CancelResult | None:
        args = {
            "id": job_id,
            "now": us_text(now),
            "expires_at": _later(now, retention_seconds),
            "did": delivery_id(),
        }
        outcome, row, changes = await self._conn.run("cancel", args)
        self._conn.dispatch(changes)
        if outcome == "none":
            return None
        return CancelResult(job_from_hash(hash_of(row)), CancelOutcome(outcome))

    async def delete_job(self, job_id: str) -> DeleteResult | None:
        row, deleted = await self._conn.run("delete", {"id": job_id})
        if not row:
            return None
        job = job_from_hash(hash_of(row))
        if deleted:
            # No new version; the change still wakes local waiters to re-read (404).
            self._conn.dispatch([[job.id, str(job.version), job.status.value, "0"]])
        return DeleteResult(job, deleted=deleted == 1)

    # -- maintenance --------------------------------------------------------------------
    async def sweep(self, params: SweepParams) -> Swept:
        args = {
            "now": us_text(params.now),
            "batch": params.batch_size,
            "keep_us": str(int(params.tombstone_seconds * 1_000_000)),
        }
        gone = await self._conn.run("sweep", args)
        return Swept(
            job_ids=[g[0] for g in gone],
            result_refs=[
                ResultRef.from_json(json.loads(g[1])) for g in gone if len(g) > 1 and g[1]
            ],
        )
