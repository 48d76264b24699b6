"""Long jobs on Redis (`lro.store.steps.Steps`): steps, checkpoints, partials, retry.

A job's long-job records are keys beside its hash (`lro:job:<id>:steps`, `:checkpoint`,
`:partials`, `:partial_at`, `:partial_bytes`; their layout is in the Lua scripts that
write them), so `delete_job` and the sweeper (common.lua) remove them with the job.
Every write is one script behind the lease fence, like the other worker writes: Redis
runs a script alone, so nothing takes the lease between the check and the write. A
batch of checkpoints or partials from many jobs is one script (one round trip). Reads
that span keys are one MULTI, so they see one moment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lro.models import Lease, Status
from lro.store.redis.connection import Connection
from lro.store.redis.rows import from_us, hash_of, job_from_hash, opt_time, to_json, us_text
from lro.store.steps import (
    JSON,
    CheckpointWrite,
    JobFilter,
    Partial,
    PartialWrite,
    Resume,
    RetryOutcome,
    RetryResult,
    StepRecord,
)


def _partial(seq: int, raw: str) -> Partial:
    version, data, at = json.loads(raw)
    return Partial(seq, int(version), json.loads(data), from_us(at))


def partial_text(value: JSON) -> list[Any]:
    """A partial as the scripts take it: its JSON text and the length counted against
    LRO_MAX_PARTIALS_BYTES (characters of the text, as the SQL backends' length())."""
    text = to_json(value)
    return [text, len(text)]


def _created_index_bound(t: datetime, after: bool) -> str:
    """A ZRANGEBYLEX bound in the created-order index (rows.created_member, whose members
    start with the 17-digit creation time): jobs created after `t` (exclusive) start at
    `[t + 1 µs`; jobs created before `t` end before `(t`."""
    us = int(us_text(t))
    return f"[{us + 1:017d}" if after else f"({us:017d}"


class RedisSteps:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _key(self, job_id: str, name: str) -> str:
        return self._conn.key(f"job:{job_id}:{name}")

    async def resume(self, job_id: str) -> Resume:
        conn = self._conn
        conn._check()
        with conn.errors():
            async with conn.client.pipeline(transaction=True) as pipe:
                pipe.hget(self._key(job_id, "checkpoint"), "value")
                pipe.hgetall(self._key(job_id, "steps"))
                pipe.get(self._key(job_id, "partial_bytes"))
                checkpoint, steps, size = await pipe.execute()
        completed: dict[str, JSON] = {}
        for name, raw in steps.items():
            step = json.loads(raw)
            if step[1] == "completed":
                completed[name] = json.loads(step[3])
        return Resume(
            found=checkpoint is not None,
            checkpoint=None if checkpoint is None else json.loads(checkpoint),
            completed=completed,
            partial_bytes=int(size or 0),
        )

    async def list_steps(self, job_id: str) -> list[StepRecord]:
        conn = self._conn
        conn._check()
        with conn.errors():
            steps = await conn.client.hgetall(self._key(job_id, "steps"))
        rows = sorted((json.loads(raw), name) for name, raw in steps.items())
        return [
            StepRecord(
                name,
                status,
                int(attempt),
                from_us(started),
                opt_time(finished or None),
                None if result is False else json.loads(result),
            )
            for (_ord, status, attempt, result, started, finished), name in rows
        ]

    async def _step(self, lease: Lease, kind: str, name: str, now: datetime, **extra: str) -> bool:
        args = {"id": lease.job_id, "token": lease.token, "kind": kind, "name": name}
        held = await self._conn.run("step", {**args, "now": us_text(now), **extra})
        return bool(held == 1)

    async def start_step(self, lease: Lease, name: str, now: datetime) -> bool:
        return await self._step(lease, "start", name, now)

    async def finish_step(self, lease: Lease, name: str, result: JSON, now: datetime) -> bool:
        return await self._step(lease, "finish", name, now, result=to_json(result))

    async def fail_step(self, lease: Lease, name: str, now: datetime) -> bool:
        return await self._step(lease, "fail", name, now)

    async def set_checkpoints(self, writes: Sequence[CheckpointWrite], now: datetime) -> list[bool]:
        if not writes:
            return []
        rows = [[w.lease.job_id, w.lease.token, to_json(w.value)] for w in writes]
        held = await self._conn.run("checkpoint", {"now": us_text(now), "writes": rows})
        return [h == 1 for h in held]

    async def append_partials(self, writes: Sequence[PartialWrite], now: datetime) -> list[bool]:
        if not writes:
            return []
        rows = [
            [w.lease.job_id, w.lease.token, [partial_text(v) for v in w.values]] for w in writes
        ]
        held, changes = await self._conn.run("partials", {"now": us_text(now), "writes": rows})
        self._conn.dispatch(changes)
        return [h == 1 for h in held]

    async def partials(self, job_id: str, after: int, limit: int) -> list[Partial]:
        if limit < 1:
            return []
        conn = self._conn
        conn._check()
        start = max(0, after)
        with conn.errors():
            raw = await conn.client.lrange(self._key(job_id, "partials"), start, start + limit - 1)
        return [_partial(start + i + 1, r) for i, r in enumerate(raw)]

    async def partials_at(self, job_id: str, versions: Sequence[int]) -> list[Partial]:
        if not versions:
            return []
        found = await self._conn.run("partials_at", {"id": job_id, "versions": list(versions)})
        return [_partial(int(seq), raw) for seq, raw in found]

    async def retry_job(self, job_id: str, now: datetime) -> RetryResult | None:
        outcome, row, changes = await self._conn.run("retry", {"id": job_id, "now": us_text(now)})
        self._conn.dispatch(changes)
        if outcome == "none":
            return None
        job = job_from_hash(hash_of(row))
        return RetryResult(
            job, RetryOutcome.RETRIED if outcome == "retried" else RetryOutcome.CONFLICT
        )

    async def select_jobs(self, where: JobFilter, now: datetime, limit: int) -> list[str]:
        if limit < 1:
            return []
        if where.tag is not None:
            # No flows part on Redis: no job carries a tag (the API refuses the filter).
            return []
        statuses = [Status(s).value for s in where.statuses]
        after, before = where.created_after, where.created_before
        args = {
            "index": "all" if where.owner is None else f"owner:{where.owner}",
            "from": "-" if after is None else _created_index_bound(after, after=True),
            "to": "+" if before is None else _created_index_bound(before, after=False),
            "limit": limit,
            "now": us_text(now),
            "statuses": statuses or None,
            "operation": where.operation,
            "exclude": where.exclude,
        }
        ids: list[str] = await self._conn.run("select", args)
        return ids
