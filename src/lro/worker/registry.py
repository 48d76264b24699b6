"""A worker process's entry in the worker registry (HTTP-CONTRACT §18).

While a worker runs, this service upserts its row (`store.workers.beat`) at once and
then every lease/3, like the lease heartbeat, so a worker that misses two beats is still
listed; `GET /workers` lists those seen within 2 x the lease, so a killed worker drops
out within that time without anyone noticing its death. A worker that stops cleanly
deletes its row, and each beat prunes rows no longer listed (dead workers'), so the
table holds little more than the live workers.

Liveness here is only what operators see: leases alone decide who owns a job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from lro.background import cancel_and_wait
from lro.models import utcnow
from lro.store.base import WorkerInfo
from lro.store.rules import workers_seen_after
from lro.worker.claiming import served_operations

if TYPE_CHECKING:
    from lro.runtime import Runtime

log = logging.getLogger("lro.worker")


class Registered(Protocol):
    """What the registry reports of a worker (lro.worker.runner.Worker has these)."""

    @property
    def id(self) -> str: ...

    @property
    def concurrency(self) -> int: ...

    @property
    def busy(self) -> int: ...

    @property
    def queues(self) -> frozenset[str] | None:
        """The queues it serves (`--queues`); None: every queue of its app."""


class Registration:
    """Keeps one worker's registry row fresh while the worker runs."""

    def __init__(self, lro: Runtime, worker: Registered) -> None:
        self._lro = lro
        self._worker = worker
        self.interval = lro.settings.lease_seconds / 3
        self._started_at: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self.beats = 0
        """Rows written so far (a test signal)."""

    def info(self, now: datetime) -> WorkerInfo:
        worker = self._worker
        # What it claims (lro.worker.claiming): the operations of the queues it serves;
        # a worker serving every queue lists the queues its app's operations are on.
        served = served_operations(self._lro.operations, worker.queues)
        queues = worker.queues or {op.limits.queue for op in served.values()}
        return WorkerInfo(
            worker_id=worker.id,
            host=socket.gethostname(),
            pid=os.getpid(),
            queues=tuple(sorted(queues)),
            operations=tuple(sorted(served)),
            concurrency=worker.concurrency,
            busy=worker.busy,
            started_at=self._started_at or now,
            last_seen_at=now,
        )

    async def start(self) -> None:
        if self._task is not None:
            return
        if self._lro.store.workers is None:
            log.info(
                "this store keeps no worker registry: worker %s is not listed", self._worker.id
            )
            return
        self._started_at = utcnow()
        try:
            await self.beat()
        except Exception as exc:
            log.warning("worker registry: first heartbeat failed, will retry: %s", exc)
        self._task = asyncio.get_running_loop().create_task(
            self._loop(), name="lro-worker-registry"
        )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        await cancel_and_wait([task])
        workers = self._lro.store.workers
        if workers is not None:
            try:
                await workers.remove(self._worker.id)
            except Exception as exc:  # listed until 2 x lease after its last beat
                log.warning("worker registry: could not remove worker %s: %s", self._worker.id, exc)

    async def beat(self) -> None:
        workers = self._lro.store.workers
        if workers is None:
            return
        now = utcnow()
        await workers.beat(self.info(now))
        await workers.prune(workers_seen_after(now, self._lro.settings.lease_seconds))
        self.beats += 1

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
            except Exception as exc:
                log.warning("worker registry: heartbeat failed, will retry: %s", exc)
