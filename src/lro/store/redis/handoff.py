"""Direct hand-off on Redis: a submit gives its job straight to a parked idle worker.

Why: across processes an idle worker's pickup is otherwise two script round trips in a
row (the submit, then the worker's claim once the change feed woke it), and on a small
machine each round trip costs a few hundred microseconds of system calls and parsing on
both sides. A parked worker skips the second: the submit's own script writes the job
already leased to it (in BullMQ too: moved to its active list with the lease as the
lock) and puts the whole row on the change feed (`lro:changes`, a line with `h` = the
worker id and `r` = the row), so the worker starts it as soon as its feed reads the line.
Under load nobody is parked (workers park only when a claim comes back short) and every
job takes the claim path. The protocol on the worker's side is lro.worker.handoff's.

Liveness: a worker's offer names its process (the connection's `origin`), and a submit
hands a job only to a process that holds a subscription to the channel
`lro:alive:<origin>` (the script asks `PUBSUB NUMSUB`). The subscription lives on its
own connection, so it ends when the process does: a killed process's socket is closed
by its kernel and Redis drops the subscription at once, the way PostgreSQL drops a dead
session's advisory lock, and no job is handed to a process that is gone. (A frozen
process keeps its connection, and its jobs wait for it or for the lease's expiry, as on
PostgreSQL.) Stream lines are not lost while a feed reconnects (it reads on from its
last id), but the worker still sweeps for `orphaned` jobs after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from redis.exceptions import RedisError

from lro.models import Job, Lease, utcnow
from lro.store.redis.connection import Connection
from lro.store.redis.jobs import RedisJobs
from lro.store.redis.rows import hash_of, job_from_hash
from lro.store.types import ClaimParams, HandoffSubscription

log = logging.getLogger("lro.store.redis")

SUBSCRIBE_WAIT_SECONDS = 2.0
"""How long a claim waits for the liveness subscription before claiming without a park."""

RETRY_SECONDS = 0.5
"""How soon the liveness subscription is tried again after its connection failed."""


class RedisHandoffs:
    """The hand-off part of the Redis store (see the module docstring)."""

    def __init__(self, conn: Connection, jobs: RedisJobs) -> None:
        self._conn = conn
        self._jobs = jobs
        self._subs: dict[str, HandoffSubscription] = {}
        self._task: asyncio.Task[None] | None = None
        self._alive = asyncio.Event()
        """Set while this process holds its liveness subscription."""
        self._tasks: set[asyncio.Task[None]] = set()
        conn.handoff_sink = self._deliver
        conn.reconnect_sink = self._reconnected

    # -- the feed's side --------------------------------------------------------------------
    def _deliver(self, worker_id: str, origin: str, row: Sequence[str]) -> None:
        if origin != self._conn.origin:
            return  # parked in another process
        job = job_from_hash(hash_of(row))
        sub = self._subs.get(worker_id)
        if sub is not None:
            sub.on_job(job)
        elif job.lease_token is not None:
            # Its worker stopped without withdrawing the offer (Redis was away): back to
            # the queue unrun, its attempt given back, rather than waiting for the lease.
            self._spawn(self._release(Lease(job.id, job.lease_token)))

    async def _release(self, lease: Lease) -> None:
        try:
            await self._jobs.release_jobs([lease], utcnow())
        except Exception as exc:
            log.error("could not release hand-off %s (its lease will expire): %s", lease, exc)

    def _spawn(self, coro: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _reconnected(self) -> None:
        for sub in list(self._subs.values()):
            sub.on_reconnect()

    # -- liveness -----------------------------------------------------------------------------
    async def _hold_subscription(self) -> None:
        """Keep this process subscribed to its liveness channel while workers here are
        subscribed to hand-offs; redis-py subscribes again on a new connection."""
        conn = self._conn
        channel = conn.key(f"alive:{conn.origin}")
        pubsub = conn.client.pubsub()
        try:
            while self._subs and not conn.closed:
                try:
                    if not pubsub.subscribed:
                        await pubsub.subscribe(channel)
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "subscribe":
                        self._alive.set()
                except (RedisError, OSError) as exc:
                    self._alive.clear()
                    log.debug("hand-off liveness subscription failed: %s", exc)
                    await asyncio.sleep(RETRY_SECONDS)
        finally:
            self._alive.clear()
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
            self._task = None

    async def close(self) -> None:
        """Stop taking hand-offs: the subscription ends, and submitters see it at once."""
        self._subs.clear()
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- the Handoffs protocol --------------------------------------------------------------
    def subscribe(self, worker_id: str, sub: HandoffSubscription) -> Callable[[], None]:
        self._subs[worker_id] = sub
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._hold_subscription())

        def unsubscribe() -> None:
            if self._subs.get(worker_id) is sub:
                del self._subs[worker_id]

        return unsubscribe

    async def claim_or_park(self, params: ClaimParams) -> tuple[list[Job], bool]:
        if params.worker_id not in self._subs:
            return await self._jobs.claim_jobs(params), False
        conn = self._conn
        if not self._alive.is_set():
            # The subscription is a round trip away at start (and after a reconnect):
            # wait for it briefly; without it, claim without parking.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._alive.wait(), SUBSCRIBE_WAIT_SECONDS)
            if not self._alive.is_set():
                return await self._jobs.claim_jobs(params), False
        args: dict[str, Any] = self._jobs.claim_args(params)
        args["park"] = {"origin": conn.origin, "lease_us": str(int(params.lease_seconds * 1e6))}
        rows, changes, parked = await conn.run("claim", args)
        conn.dispatch(changes)
        return [job_from_hash(hash_of(r)) for r in rows], parked == 1

    async def unpark(self, worker_id: str) -> bool:
        return bool(await self._conn.run("unpark", {"worker_id": worker_id}) == 1)

    async def orphaned(self, worker_id: str, known_tokens: Sequence[str]) -> list[Job]:
        rows = await self._conn.run(
            "orphaned", {"worker_id": worker_id, "known": list(known_tokens) or [""]}
        )
        return [job_from_hash(hash_of(r)) for r in rows]


__all__ = ["RedisHandoffs"]
