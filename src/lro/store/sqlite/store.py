"""The SQLite backend: one file in WAL mode, shared by the API and worker processes.

`SQLiteStore` composes the package's parts and owns nothing but their lifecycle: the
connection layer (`connection.Database`: threads, transactions, listeners), the
cross-process change feed (`poll.EventPoll`), the job verbs (`jobs.SQLiteJobs`, which it
extends) and the outbox, quotas, blobs, workload limits, long-job steps and worker registry.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from lro.store.sqlite.batches import SQLiteBatches
from lro.store.sqlite.blobs import SQLiteBlobs
from lro.store.sqlite.connection import Database
from lro.store.sqlite.jobs import SQLiteJobs
from lro.store.sqlite.outbox import SQLiteOutbox
from lro.store.sqlite.poll import EventPoll
from lro.store.sqlite.quotas import SQLiteQuotas
from lro.store.sqlite.schedules import SQLiteSchedules
from lro.store.sqlite.steps import SQLiteSteps
from lro.store.sqlite.timeline import SQLiteTimeline
from lro.store.sqlite.workers import SQLiteWorkers
from lro.store.sqlite.workload import SQLiteWorkload
from lro.store.types import JobChange, Listener


class SQLiteStore(SQLiteJobs):
    """The Store protocol on one SQLite file (see the package's modules for the design)."""

    supports_listen = False
    supports_flows = True
    embedded = True
    handoffs: None = None
    """In one process a queued job wakes the claim loop at once; across processes on one
    SQLite file the poll decides pickup, so a hand-off would save nothing."""

    def __init__(
        self, path: str | Path, *, poll_interval: float = 0.02, busy_timeout_ms: int = 5000
    ) -> None:
        self.db = Database(str(path), busy_timeout_ms=busy_timeout_ms)
        """The connection layer every part runs on."""
        self._poll = EventPoll(self.db, poll_interval)
        super().__init__(self.db)
        self.outbox = SQLiteOutbox(self.db)
        self.quotas = SQLiteQuotas(self.db)
        self.blobs = SQLiteBlobs(self.db)
        self.workload = SQLiteWorkload(self.db)
        self.steps: SQLiteSteps | None = SQLiteSteps(self.db)
        self.batches = SQLiteBatches(self.db)
        self.schedules = SQLiteSchedules(self.db)
        self.workers: SQLiteWorkers | None = SQLiteWorkers(self.db)
        self.timeline = SQLiteTimeline(self.db)

    @classmethod
    def from_url(cls, url: str, *, poll_interval: float = 0.02) -> SQLiteStore:
        """`sqlite:///relative/path.db` or `sqlite:////absolute/path.db`."""
        prefix = "sqlite:///"
        path = url[len(prefix) :].split("?", 1)[0] if url.startswith(prefix) else ""
        if not path or path == ":memory:":
            raise ValueError(
                f"unsupported SQLite URL {url!r}: use sqlite:///relative/path.db or "
                f"sqlite:////absolute/path.db (an in-memory database cannot be shared)"
            )
        return cls(path, poll_interval=poll_interval)

    @property
    def path(self) -> str:
        return self.db.path

    @property
    def poll_interval(self) -> float:
        return self._poll.poll_interval

    @property
    def busy_timeout_ms(self) -> int:
        return self.db.busy_timeout_ms

    async def open(self) -> None:
        if self.db.opened and not self.db.closed:
            return
        await self.db.open()
        try:
            await self._poll.open()
        except BaseException:
            await self.db.shutdown()
            self.db.opened = False
            raise

    async def close(self) -> None:
        if self.db.closed:
            return
        self.db.closed = True
        await self._poll.close()
        await self.db.close()

    async def migrate(self) -> int:
        return await self.db.migrate()

    async def ping(self) -> None:
        """A read; and after a write failed on a full disk, a small write too, so readiness
        says "not ready" for as long as writes cannot be made (a read still works then)."""
        await self.db.read(lambda c: c.execute("SELECT 1").fetchone())
        if self.db.full:
            await self.db.write(_probe_write)

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        return self.db.listeners.add(listener)


def _probe_write(conn: sqlite3.Connection) -> tuple[None, list[JobChange]]:
    # A committed one-row write: it needs room in the WAL, which a rolled-back one does not.
    conn.execute(
        "INSERT OR REPLACE INTO settings (key, value) VALUES ('lro.ready_probe', ?)",
        (str(time.time()),),
    )
    return None, []
