"""The LISTEN session: at most one dedicated connection per store, held while anyone
listens, that hears every process's changes on channel `lro_changes`.

Other processes' changes arrive as NOTIFY payloads `origin|id version status cancel;...`
(a statement trigger on `lro_events` sends them at commit; schema.sql). Each pool
connection carries a per-store `lro.origin` setting that the trigger copies into the
payload, so the session skips the changes this store already dispatched itself.

Payloads that start with a registered prefix go to that route instead (the hand-off's
`H|`), and a route's hooks run as the session comes and goes: the hand-off holds its
liveness lock on the session's connection. The session reconnects with backoff
(0.05 s .. 2 s). Nothing is replayed after a reconnect: NOTIFY has no history, and
inventing changes would be wrong, so every waiter also keeps a slow poll for that gap.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from lro.background import cancel_and_wait
from lro.store.postgres.connection import Database, sync_clock
from lro.store.postgres.rows import Conn, parse_changes

log = logging.getLogger("lro.store.postgres")

CHANNEL = "lro_changes"


class Route(Protocol):
    """A part that takes the payloads starting with its prefix, and hooks the session."""

    async def session_started(self, conn: Conn, *, reconnected: bool) -> None:
        """Runs on each new session's connection before it counts as listening."""

    def session_lost(self) -> None:
        """Runs when a session ends, for whatever reason."""

    def deliver(self, payload: str) -> None:
        """A payload with the route's prefix (prefix included)."""


class ListenSession:
    """The task holding the LISTEN connection, run while the database is open and a
    listener exists."""

    def __init__(self, db: Database, *, keepalive: float = 10.0) -> None:
        self._db = db
        self.keepalive = keepalive
        self._routes: dict[str, Route] = {}
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        """Set while the LISTEN connection is up: a signal tests (and /readyz) can await."""
        db.listeners.on_change = self.ensure

    def route(self, prefix: str, to: Route) -> None:
        self._routes[prefix] = to

    def ensure(self) -> None:
        """Start the task if it should run, stop it if nobody listens any more."""
        if not self._db.listeners:
            if self._task is not None:
                self._task.cancel()
                self._task = None
                self.listening.clear()
            return
        if self._task is not None or not self._db.is_open:
            return  # running already, or the store's open() starts it
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # registered outside the loop: the store's open() starts it
        self._task = loop.create_task(self._listen(), name="lro-postgres-listen")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait([task])
        self.listening.clear()

    def _on_notification(self, _conn: Conn, _pid: int, _channel: str, payload: str) -> None:
        for prefix, route in self._routes.items():
            if payload.startswith(prefix):
                route.deliver(payload)
                return
        try:
            origin, changes = parse_changes(payload)
        except (ValueError, KeyError):
            log.warning("ignoring malformed %s payload %r", CHANNEL, payload[:200])
            return
        if origin != self._db.origin:
            if len(changes) > 1:
                # Only each job's newest state: a job handed off at submit arrives as
                # queued then processing, and idle workers must not wake to claim it.
                changes = list({c.job_id: c for c in changes}.values())
            self._db.notify(changes)

    async def _listen(self) -> None:
        delay = 0.05
        sessions = 0
        while True:
            conn: Conn = None
            try:
                conn = await self._db.connect("listen")
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notification)
                for route in list(self._routes.values()):
                    await route.session_started(conn, reconnected=sessions > 0)
                sessions += 1
                self.listening.set()
                delay = 0.05
                while not conn.is_closed():
                    try:
                        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the
                        # cancellation that closes the store, and this loop would not stop.
                        async with asyncio.timeout(self.keepalive):
                            await lost.wait()
                    except TimeoutError:
                        # A half-open TCP connection never reports its loss: probe it,
                        # with the query that keeps this process on the server's clock.
                        await sync_clock(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN connection lost, reconnecting in %.2fs: %r", delay, exc)
            finally:
                self.listening.clear()
                for route in list(self._routes.values()):
                    route.session_lost()
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
