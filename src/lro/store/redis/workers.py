"""The worker registry on Redis (`parts.Workers`): a hash per worker (`lro:worker:<id>`,
the fields of `WorkerInfo`) and one sorted set of worker ids scored by `last_seen_at`
(`lro:workers`), so the live list and the pruning of dead workers are range reads of
that set rather than a scan of keys. A beat writes both in one MULTI; pruning is one
script (lua/workers_prune.lua), so a worker beating at that moment is never half gone."""

from __future__ import annotations

import json
from datetime import datetime

from lro.store.redis.connection import Connection
from lro.store.redis.rows import from_us, us_text
from lro.store.types import WorkerInfo


def _info(h: dict[str, str]) -> WorkerInfo:
    return WorkerInfo(
        worker_id=h["worker_id"],
        host=h["host"],
        pid=int(h["pid"]),
        queues=tuple(json.loads(h["queues"])),
        operations=tuple(json.loads(h["operations"])),
        concurrency=int(h["concurrency"]),
        busy=int(h["busy"]),
        started_at=from_us(h["started_at"]),
        last_seen_at=from_us(h["last_seen_at"]),
    )


class RedisWorkers:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _key(self, worker_id: str) -> str:
        return self._conn.key(f"worker:{worker_id}")

    async def beat(self, worker: WorkerInfo) -> None:
        conn = self._conn
        conn._check()
        seen = us_text(worker.last_seen_at)
        fields = {
            "worker_id": worker.worker_id,
            "host": worker.host,
            "pid": str(worker.pid),
            "queues": json.dumps(list(worker.queues)),
            "operations": json.dumps(list(worker.operations)),
            "concurrency": str(worker.concurrency),
            "busy": str(worker.busy),
            "started_at": us_text(worker.started_at),
            "last_seen_at": seen,
        }
        with conn.errors():
            async with conn.client.pipeline(transaction=True) as pipe:
                pipe.hset(self._key(worker.worker_id), mapping=fields)
                pipe.zadd(conn.key("workers"), {worker.worker_id: int(seen)})
                await pipe.execute()

    async def live(self, seen_after: datetime) -> list[WorkerInfo]:
        conn = self._conn
        conn._check()
        with conn.errors():
            ids = await conn.client.zrangebyscore(
                conn.key("workers"), f"({us_text(seen_after)}", "+inf"
            )
            if not ids:
                return []
            async with conn.client.pipeline(transaction=False) as pipe:
                for worker_id in ids:
                    pipe.hgetall(self._key(worker_id))
                found = await pipe.execute()
        # A worker pruned or removed between the two reads has no hash any more: skip it.
        workers = [_info(h) for h in found if h]
        return sorted(workers, key=lambda w: (w.started_at, w.worker_id))

    async def remove(self, worker_id: str) -> None:
        conn = self._conn
        conn._check()
        with conn.errors():
            async with conn.client.pipeline(transaction=True) as pipe:
                pipe.delete(self._key(worker_id))
                pipe.zrem(conn.key("workers"), worker_id)
                await pipe.execute()

    async def prune(self, seen_before: datetime) -> int:
        return int(await self._conn.run("workers_prune", {"before": us_text(seen_before)}))
