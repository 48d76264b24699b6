"""Changes made by other processes on the same SQLite file, delivered to our listeners.

While any listener is registered, a task polls the `events` table by its AUTOINCREMENT id
every `poll_interval` seconds (our own changes come back too; listeners re-read, so
duplicates are harmless). SQLite serialises writers, so that id is a safe resume cursor.
The cursor is taken when the store opens and kept across pauses, so nothing committed
after `open()` is missed by a listener added later. `events.cancel_requested` marks the
change that asked a processing job to stop, so polled changes carry
`JobChange.cancel_requested` too.

Another process's commit also signals this one through `wake.WakeChannel`, which cuts the
wait short: pickup across processes then costs a FIFO write and a poll, not half a poll
interval. The interval stays the fallback for a lost signal or a platform without FIFOs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3

from lro.background import cancel_and_wait
from lro.errors import StoreUnavailable
from lro.store.sql import load_queries
from lro.store.sqlite.connection import Database
from lro.store.sqlite.rows import PACKAGE, STATUS, Row
from lro.store.sqlite.wake import WakeChannel
from lro.store.types import JobChange

log = logging.getLogger("lro.store.sqlite")

Q = load_queries(PACKAGE, "events.sql")
_PAGE = 1000


def _events_since(conn: sqlite3.Connection, after: int) -> list[Row]:
    return conn.execute(Q["events_since"], {"after": after, "limit": _PAGE}).fetchall()


class EventPoll:
    """The poll task, started while the database is open and someone listens."""

    def __init__(self, db: Database, poll_interval: float) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self._db = db
        self.poll_interval = poll_interval
        self._task: asyncio.Task[None] | None = None
        self._cursor = 0
        self._ready = False
        self._woken = asyncio.Event()
        self.wake = WakeChannel(db.path)
        """Signals other processes after our commits, and cuts our wait short on theirs."""
        db.after_commit = self.wake.signal
        db.listeners.on_change = self.ensure

    async def open(self) -> None:
        """Take the cursor (the newest event now) and start polling if anyone listens."""
        self._cursor = await self._db.read(
            lambda c: int(c.execute(Q["last_event_id"]).fetchone()[0])
        )
        self._ready = True
        self.wake.start(self._woken.set)
        self.ensure()

    async def close(self) -> None:
        self._ready = False
        self.wake.stop()
        task, self._task = self._task, None
        await cancel_and_wait([task])

    def ensure(self) -> None:
        """Run the task exactly while the database is open and a listener exists."""
        if not self._db.listeners:
            if self._task is not None:
                self._task.cancel()
                self._task = None
            return
        if self._task is not None or not self._ready:
            return  # running already, or open() starts it
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # registered outside the loop: open() starts it
        self._task = loop.create_task(self._poll(), name="lro-sqlite-event-poll")

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.poll_interval)
            self._woken.clear()
            full = True
            while full:  # drain a backlog page by page without sleeping
                try:
                    rows = await self._db.read_inline(
                        functools.partial(_events_since, after=self._cursor)
                    )
                except StoreUnavailable as exc:
                    log.warning("event poll failed, retrying: %s", exc)
                    break
                except Exception:  # never let the poller die silently; keep polling
                    log.exception("event poll failed, retrying")
                    break
                full = len(rows) == _PAGE
                if rows:
                    self._cursor = rows[-1]["id"]
                    self._db.listeners.dispatch(
                        [
                            JobChange(
                                r["job_id"],
                                r["version"],
                                STATUS[r["status"]],
                                r["cancel_requested"] == 1,
                            )
                            for r in rows
                        ]
                    )
