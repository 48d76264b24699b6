"""Batched completions and coalesced progress: the worker's two high-volume writes.

Both are "group commits": whatever piles up while one store write is in flight goes out
together in the next one. A burst of 20 finished no-op jobs therefore costs one
`complete_jobs` transaction instead of 20, and a handler calling `ctx.progress` 100,000
times in a loop costs one `set_progress` write per `progress_flush_seconds` (carrying only
its latest value), not 100,000.

Ordering. The two writes go out on different connections (PostgreSQL), so a progress write
still in flight can commit after the job's completion, and is then fenced away: the end of
an attempt must not depend on it. A completion therefore carries the attempt's last step
text itself (the executor puts it there), and a failure or cancel first waits for any
progress write of its job that is in flight (`progress_settled`) and then writes what is
still pending. Every write is fenced by the lease, so a stale write (from an abandoned
thread, or after the lease was lost) changes nothing and is reported back through
`on_lost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence

from lro.background import cancel_and_wait
from lro.errors import StoreUnavailable
from lro.models import Completion, Job, Lease, ProgressUpdate, utcnow
from lro.store.base import Store

log = logging.getLogger("lro.worker")

MAX_BATCH = 500
"""Largest batch per store call, so one transaction never holds the write lock for long."""

STORE_RETRY_SECONDS = 0.5
"""Pause before retrying a batch after the store failed (it may be restarting)."""

FINAL_FLUSH_TRIES = 3

CompletedHook = Callable[[Sequence[Completion], Sequence[Job | None]], None]
LostHook = Callable[[Lease], None]


class WriteBuffer:
    """Queues completions and progress in memory and writes them in batches.

    `note_progress` may be called from any thread (sync handlers run in a pool); everything
    else runs on the event loop.
    """

    def __init__(
        self,
        store: Store,
        *,
        flush_seconds: float,
        retention_seconds: float,
        on_completed: CompletedHook,
        on_lost: LostHook,
    ) -> None:
        self._store = store
        self._flush_seconds = flush_seconds
        self._retention = retention_seconds
        self._on_completed = on_completed
        self._on_lost = on_lost
        self._completions: list[Completion] = []
        self._in_flight = 0
        self._dirty: dict[str, tuple[Lease, float, str | None]] = {}
        self._progress_armed = False
        self._last_progress = 0.0
        self._completion_wake = asyncio.Event()
        self._progress_wake = asyncio.Event()
        self._progress_in_flight: dict[str, asyncio.Event] = {}
        """Jobs whose progress is being written now, with the event set once it is."""
        self._write_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.progress_writes = 0
        """How many `set_progress` calls were made (a test signal)."""
        self.completion_writes = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._tasks = [
            self._loop.create_task(self._completion_loop(), name="lro-worker-completions"),
            self._loop.create_task(self._progress_loop(), name="lro-worker-progress"),
        ]

    @property
    def pending(self) -> int:
        """Completions not yet committed (queued or in flight)."""
        return len(self._completions) + self._in_flight

    # -- progress -------------------------------------------------------------------------
    def note_progress(self, lease: Lease, pct: float, step: str | None) -> None:
        """Record the latest progress of an attempt; thread-safe and cheap.

        Why no lock: under the GIL a dict store is atomic, and the loop clears
        `_progress_armed` *before* it swaps `_dirty` out, so an entry written after the swap
        always finds the flag clear and re-arms the flusher (at worst twice, harmlessly).
        """
        self._dirty[lease.job_id] = (lease, pct, step)
        if self._progress_armed:
            return
        self._progress_armed = True
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._progress_wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed under a stray thread
                loop.call_soon_threadsafe(self._progress_wake.set)

    def drop_progress(self, job_id: str) -> None:
        """Forget unwritten progress of an attempt that has ended."""
        self._dirty.pop(job_id, None)

    async def progress_settled(self, job_id: str) -> None:
        """Return once no progress write of this job is in flight."""
        done = self._progress_in_flight.get(job_id)
        if done is not None:
            await done.wait()

    def take_progress(self, job_id: str) -> ProgressUpdate | None:
        """Remove and return an attempt's unwritten progress, for the caller to write."""
        entry = self._dirty.pop(job_id, None)
        return None if entry is None else ProgressUpdate(*entry)

    async def _progress_loop(self) -> None:
        while True:
            await self._progress_wake.wait()
            self._progress_wake.clear()
            delay = self._last_progress + self._flush_seconds - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._write_progress()

    async def _write_progress(self) -> None:
        self._progress_armed = False
        batch, self._dirty = self._dirty, {}
        if not batch:
            return
        updates = [ProgressUpdate(lease, pct, step) for lease, pct, step in batch.values()]
        self._last_progress = time.monotonic()
        self.progress_writes += 1
        done = asyncio.Event()
        for job_id in batch:
            self._progress_in_flight[job_id] = done
        held: list[bool] | None = None
        try:
            held = await self._store.set_progress(updates, utcnow())
        except Exception as exc:
            failure: Exception | None = exc
        else:
            failure = None
        finally:
            # Waiters wake only at our next await, after a failed batch is back in _dirty.
            for job_id in batch:
                if self._progress_in_flight.get(job_id) is done:
                    del self._progress_in_flight[job_id]
            done.set()
        if failure is not None or held is None:
            # Keep the newest value of each job for the next try; progress is advisory, so
            # a failed write is logged, not escalated.
            log.warning("progress write failed, will retry: %s", failure)
            for job_id, entry in batch.items():
                self._dirty.setdefault(job_id, entry)
            self._progress_armed = True
            self._progress_wake.set()
            await asyncio.sleep(STORE_RETRY_SECONDS)
            return
        for update, ok in zip(updates, held, strict=True):
            if not ok:
                self._on_lost(update.lease)

    # -- completions ----------------------------------------------------------------------
    def add_completion(self, completion: Completion) -> None:
        # Unwritten progress is superseded by the completion (100%), but its step text is
        # the job's last word on what it did: it rides along instead of costing a write.
        pending = self._dirty.pop(completion.lease.job_id, None)
        if pending is not None and pending[2] is not None and completion.step is None:
            completion = dataclasses.replace(completion, step=pending[2])
        self._completions.append(completion)
        self._completion_wake.set()

    async def _completion_loop(self) -> None:
        while True:
            await self._completion_wake.wait()
            self._completion_wake.clear()
            # One more loop turn lets attempts finishing in this same turn join the batch.
            await asyncio.sleep(0)
            try:
                await self._write_completions()
            except StoreUnavailable as exc:
                log.warning("completion write failed, will retry: %s", exc)
                await asyncio.sleep(STORE_RETRY_SECONDS)
                self._completion_wake.set()
            except Exception:
                # Not an outage: maybe one completion the store rejects. Write them one by
                # one so a single bad row cannot block every other job's completion.
                log.exception("completion batch failed; writing its items one by one")
                await self._write_singly()

    async def _write_singly(self) -> None:
        async with self._write_lock:
            batch, self._completions = self._completions, []
            for completion in batch:
                self._in_flight += 1
                try:
                    results = await self._store.complete_jobs(
                        [completion], utcnow(), self._retention
                    )
                except Exception:
                    # Its lease runs out and the rescuer re-runs the job: never lost.
                    log.exception(
                        "could not write the completion of job %s; the job will be "
                        "retried when its lease expires",
                        completion.lease.job_id,
                    )
                    results = [None]
                finally:
                    self._in_flight -= 1
                self._on_completed([completion], results)

    async def _write_completions(self) -> None:
        async with self._write_lock:
            while self._completions:
                batch = self._completions[:MAX_BATCH]
                del self._completions[:MAX_BATCH]
                self._in_flight += len(batch)
                try:
                    results = await self._store.complete_jobs(batch, utcnow(), self._retention)
                except BaseException:
                    self._completions[:0] = batch  # keep order; retried by the caller
                    raise
                finally:
                    self._in_flight -= len(batch)
                self.completion_writes += 1
                self._on_completed(batch, results)

    # -- shutdown -------------------------------------------------------------------------
    async def flush(self) -> None:
        """Write everything pending now (used on shutdown and by tests)."""
        await self._write_progress()
        for attempt in range(FINAL_FLUSH_TRIES):
            try:
                await self._write_completions()
                return
            except Exception as exc:
                if attempt + 1 == FINAL_FLUSH_TRIES:
                    # The leases will expire and the rescuer re-runs these jobs:
                    # at-least-once, never lost.
                    log.error(
                        "could not write %d completions on shutdown: %s",
                        len(self._completions),
                        exc,
                    )
                    return
                await asyncio.sleep(STORE_RETRY_SECONDS)

    async def stop(self) -> None:
        await self.flush()
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(tasks)
        self._loop = None
