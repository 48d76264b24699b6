"""The PostgreSQL backend: many API and worker processes on many machines share one queue.

`PostgresStore` composes the package's parts and owns nothing but their lifecycle: the
connection layer (`connection.Database`: pool, transactions, retries, error mapping,
listeners), the LISTEN session (`listen.ListenSession`), the job verbs
(`jobs.PostgresJobs`, which it extends), the direct hand-off (`handoff.PostgresHandoffs`),
the outbox, quotas, blobs, the workload limits, the long-job steps and the worker
registry. The store's sessions run with bitmap scans off, so the claim walks its index in
claim order even when the queue table's statistics are stale (`Database.settings`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lro.store.postgres.batches import PostgresBatches
from lro.store.postgres.blobs import PostgresBlobs
from lro.store.postgres.connection import Database, split_url
from lro.store.postgres.handoff import PostgresHandoffs
from lro.store.postgres.jobs import PostgresJobs
from lro.store.postgres.listen import ListenSession
from lro.store.postgres.outbox import PostgresOutbox
from lro.store.postgres.quotas import PostgresQuotas
from lro.store.postgres.schedules import PostgresSchedules
from lro.store.postgres.steps import PostgresSteps
from lro.store.postgres.timeline import PostgresTimeline
from lro.store.postgres.workers import PostgresWorkers
from lro.store.postgres.workload import PostgresWorkload
from lro.store.types import Listener


class PostgresStore(PostgresJobs):
    """The Store protocol on PostgreSQL (see the package's modules for the design)."""

    supports_listen = True
    supports_flows = True
    embedded = False

    def __init__(
        self,
        dsn: str,
        *,
        pool_min: int = 1,
        pool_max: int = 10,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
        listen_keepalive: float = 10.0,
    ) -> None:
        self.db = Database(
            dsn,
            pool_min=pool_min,
            pool_max=pool_max,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
        )
        """The connection layer every part runs on."""
        super().__init__(self.db)
        self._session = ListenSession(self.db, keepalive=listen_keepalive)
        self.outbox = PostgresOutbox(self.db)
        self.quotas = PostgresQuotas(self.db)
        self.blobs = PostgresBlobs(self.db)
        self.workload = PostgresWorkload(self.db)
        self.steps: PostgresSteps | None = PostgresSteps(self.db)
        self.batches = PostgresBatches(self.db)
        self.schedules = PostgresSchedules(self.db)
        self.workers: PostgresWorkers | None = PostgresWorkers(self.db)
        self.timeline = PostgresTimeline(self.db)
        self.handoffs: PostgresHandoffs | None = PostgresHandoffs(self.db, self, self._session)
        """None turns hand-offs off for the workers of this store (tests of the claim
        path; see handoff.py)."""

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """`postgresql://user@host:port/db?pool_max=20` (see connection.py)."""
        dsn, opts = split_url(url)
        kwargs: dict[str, Any] = {}
        for key in ("pool_min", "pool_max"):
            if key in opts:
                kwargs[key] = int(opts[key])
        for key in ("connect_timeout", "command_timeout"):
            if key in opts:
                kwargs[key] = opts[key]
        return cls(dsn, **kwargs)

    @property
    def dsn(self) -> str:
        return self.db.dsn

    @property
    def origin(self) -> str:
        return self.db.origin

    @property
    def listening(self) -> asyncio.Event:
        """Set while the LISTEN connection is up: a signal tests (and /readyz) can await."""
        return self._session.listening

    async def open(self) -> None:
        await self.db.open()
        self._session.ensure()

    async def close(self) -> None:
        if self.db.closed:
            return
        self.db.closed = True
        await self._session.stop()
        await self.db.close()

    async def migrate(self) -> int:
        return await self.db.migrate()

    async def ping(self) -> None:
        await self.db.ping()

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        return self.db.listeners.add(listener)
