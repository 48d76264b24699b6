"""The Worker: N concurrent slots fed by one claim loop, drained gracefully on shutdown.

Per process the worker runs these asyncio tasks, and one more per running job:

    claim loop   claims min(free slots, CLAIM_BATCH) jobs in one transaction, starts one
                 task per job, then sleeps until a slot frees or a job is queued (the
                 change hub wakes it, for other processes too) or IDLE_POLL_SECONDS pass,
                 so jobs delayed by `run_at` start on time
    buffer       batched completions and coalesced progress (lro.worker.buffer)
    heartbeat    one lease extension for all running jobs every lease/3 (lro.worker.lease)
    hand-off     on PostgreSQL, jobs handed to this idle worker at submit (worker/handoff)

Beside it run the `services` the composition root gives it (LRO.worker(): the rescuer
and sweeper of lro.worker.maintenance, the webhook dispatcher, its slots gauge); the
worker only starts them with itself and stops them once it has drained.

Cancel requests: the handler's `ctx.cancelled` is set at once; an async handler (or the
wait for a sync one) still running `cancel_grace` seconds later (default 1 s) is
interrupted, and the job ends `cancelled`. The grace lets a cooperative handler stop at a
clean point; the interruption bounds how long an uncooperative one can run on.

Shutdown (`stop`): stop claiming, give running jobs up to `grace` seconds to finish, then
interrupt the rest and give them back to the queue with one `release_jobs` call (the
interrupted run does not count as an attempt), and flush buffered writes.

Test signals: `stats` counts outcomes, `wait_for(predicate, timeout)` waits until a
predicate over the stats holds, and `wait_idle(timeout)` until nothing runnable is left.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from lro import logs
from lro.models import Completion, Job, Lease, utcnow
from lro.store.base import ClaimParams
from lro.worker.buffer import STORE_RETRY_SECONDS, WriteBuffer
from lro.worker.claiming import ClaimPlan, parse_queues, served_operations
from lro.worker.executor import Attempt, Executor, Outcome, StopReason
from lro.worker.handoff import HandoffReceiver
from lro.worker.lease import CancelWatcher, Heartbeat
from lro.worker.maintenance import Maintenance
from lro.worker.signals import run_until_signalled
from lro.worker.stats import OUTCOME_LABELS, TIMED, WorkerStats


class Service(Protocol):
    """A long-running part that starts and stops with a worker (see `Worker.services`)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


if TYPE_CHECKING:
    from lro.runtime import Runtime

log = logging.getLogger("lro.worker")

CLAIM_BATCH = 100
"""Most jobs claimed per transaction."""

IDLE_POLL_SECONDS = 1.0
"""Safety net for an idle worker: claim at least this often even without a wake-up, so a
job whose `run_at` arrives (a delayed submit, another worker's retry) starts in time."""

CANCEL_GRACE_SECONDS = 1.0

INTERRUPT_WAIT_SECONDS = 2.0
"""On shutdown, how long interrupted attempts get to record their outcome."""


def _make_id() -> str:
    host = socket.gethostname().split(".")[0][:32] or "host"
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex}"


class Worker:
    """Runs the runtime's operations; see the module docstring for the moving parts."""

    def __init__(
        self,
        lro: Runtime,
        concurrency: int,
        *,
        cancel_grace: float = CANCEL_GRACE_SECONDS,
        services: Sequence[Service] = (),
        queues: str | Sequence[str] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.lro = lro
        self.queues = parse_queues(lro.settings.queues if queues is None else queues)
        """The queues this worker serves (None: every queue of its app)."""
        served_operations(lro.operations, self.queues)  # refuse an unknown queue now
        self.concurrency = concurrency
        self.cancel_grace = cancel_grace
        self.id = _make_id()
        """Fresh per Worker, so two workers on one host (or a restarted one) never share
        leases; the host and pid prefix only make logs readable."""
        self.stats = WorkerStats()
        self.services: list[Service] = list(services)
        """What runs beside this worker for as long as it does, chosen by the composition
        root (`LRO.worker()`: maintenance, the webhook dispatcher, its metrics): started
        once the worker runs, stopped once it has drained. A bare `Worker(runtime, n)`
        only claims and runs jobs."""
        self._attempts: dict[str, Attempt] = {}
        self._busy = 0
        self._zombies = 0
        self._to_release: list[Lease] = []
        self._wake: asyncio.Event | None = None
        self._waiting_for_slot = False
        self._next_due: datetime | None = None
        self._claim_gen = 0
        self._empty_claim: tuple[int, int] = (0, -1)
        self._activity = 0
        self._watchers: list[asyncio.Event] = []
        self._started = False
        self._stopping = False
        self._stopped = asyncio.Event()
        self._force = asyncio.Event()
        self._claim_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._buffer: WriteBuffer | None = None
        self._executor: Executor | None = None
        self._heartbeat: Heartbeat | None = None
        self._watcher: CancelWatcher | None = None
        self._handoff: HandoffReceiver | None = None
        self._plan: ClaimPlan | None = None

    @property
    def maintenance(self) -> Maintenance | None:
        """The rescuer and sweeper among this worker's services, if it was given them."""
        return next((s for s in self.services if isinstance(s, Maintenance)), None)

    @property
    def busy(self) -> int:
        """Slots running a job (or held by a sync handler's thread that outlived it)."""
        return self._busy

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the store and start claiming. Idempotent."""
        if self._started:
            return
        await self.lro.start()
        self._started = True
        self._loop = asyncio.get_running_loop()
        settings = self.lro.settings
        store = self.lro.store
        # Sized to the slots: a sync handler never waits for a thread, and a thread that
        # outlives its attempt (timeout, cancel) keeps its slot busy until it returns.
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self.concurrency, thread_name_prefix="lro-job"
        )
        self._buffer = WriteBuffer(
            store,
            flush_seconds=settings.progress_flush_seconds,
            retention_seconds=settings.retention_seconds,
            on_completed=self._on_completed,
            on_lost=self._on_lost,
        )
        self._executor = Executor(self.lro, self._buffer, self._pool)
        self._heartbeat = Heartbeat(
            store,
            lease_seconds=settings.lease_seconds,
            leases=self._leases,
            on_lost=self._on_lost,
            on_cancel=self._on_cancel,
        )
        self._watcher = CancelWatcher(
            self.lro.hub, is_running=self._attempts.__contains__, on_cancel=self._on_cancel
        )
        if store.handoffs is not None:
            self._handoff = HandoffReceiver(self, store, store.handoffs)
            self._handoff.start()
        self._buffer.start()
        self._heartbeat.start()
        self._watcher.start()
        for service in self.services:
            await service.start()
        self._plan = ClaimPlan(store, served_operations(self.lro.operations, self.queues))
        adopted = await self._plan.adopt()
        if adopted:
            log.info("worker %s re-keyed %d queued jobs whose limits changed", self.id, adopted)
        self._claim_task = self._loop.create_task(self._claim_loop(), name="lro-worker-claim")
        log.info(
            "worker %s started: %d slots, operations: %s",
            self.id,
            self.concurrency,
            ", ".join(sorted(served_operations(self.lro.operations, self.queues))) or "(none)",
        )

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming, let running jobs finish for up to `grace` seconds (default
        `settings.shutdown_grace_seconds`), release the rest to the queue, flush writes."""
        if not self._started:
            return
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        grace = self.lro.settings.shutdown_grace_seconds if grace is None else grace
        self._kick()
        if self._claim_task is not None:
            await self._claim_task
        if self._handoff is not None:
            await self._handoff.stop()
        running = self._running_tasks()
        if running:
            log.info(
                "worker %s draining %d running jobs (grace %g s)", self.id, len(running), grace
            )
            await self._wait_tasks(running, grace)
        await self._interrupt_remaining()
        await self._release()
        assert self._buffer is not None and self._heartbeat is not None
        await self._buffer.stop()
        if self._executor is not None:
            await self._executor.cleanup.drain()
        await self._heartbeat.stop()
        if self._watcher is not None:
            self._watcher.stop()
        for service in reversed(self.services):
            await service.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        log.info("worker %s stopped: %s", self.id, self.stats)
        self._stopped.set()
        self._notify()

    async def run_until_stopped(self) -> None:
        """Start, run until SIGTERM/SIGINT (or `stop()`), then stop gracefully. A second
        signal skips what is left of the grace period."""
        await run_until_signalled(
            f"worker {self.id}", self.start, self.stop, self._stopped, self._force
        )

    # -- test signals ---------------------------------------------------------------------
    async def wait_for(self, predicate: Callable[[WorkerStats], bool], timeout: float) -> None:
        """Wait until `predicate(self.stats)` holds; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(self.stats):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"worker condition not met within {timeout} s: {self.stats}")
            event = asyncio.Event()
            self._watchers.append(event)
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                pass
            finally:
                self._watchers.remove(event)

    async def wait_idle(self, timeout: float) -> None:
        """Wait until nothing runnable is left: a claim started after this call found no
        job, nothing has run since, and every write has been committed. Jobs whose `run_at`
        is still in the future do not count."""
        since = self._claim_gen
        self._kick()
        await self.wait_for(lambda _: self._idle_since(since), timeout)

    def _idle_since(self, gen: int) -> bool:
        empty_gen, activity = self._empty_claim
        return (
            empty_gen > gen
            and activity == self._activity
            and self._busy == 0
            and self._buffer is not None
            and self._buffer.pending == 0
        )

    @property
    def running_jobs(self) -> list[str]:
        """Ids of the jobs this worker holds a lease on."""
        return list(self._attempts)

    def _notify(self) -> None:
        for event in self._watchers:
            event.set()

    def _kick(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # -- claiming -------------------------------------------------------------------------
    async def _claim_loop(self) -> None:
        store = self.lro.store
        lease_seconds = self.lro.settings.lease_seconds
        plan = self._plan
        assert plan is not None
        operations = plan.operations
        plain = store.claim_jobs if self._handoff is None else self._handoff.claim
        # A limited operation's slot frees when one of its jobs ends, in any process.
        with self.lro.hub.queue_waiter(also_on_end=bool(plan.limited)) as waiter:
            # The waiter's event doubles as our own wake-up (slot freed, stop, wait_idle),
            # so the loop sleeps on one event whatever wakes it.
            self._wake = waiter.event
            while not self._stopping:
                free = self.free_slots()
                if free <= 0:
                    if self._handoff is not None and self._handoff.parked:
                        await self._handoff.unpark()  # full: a hand-off would only bounce
                        self._notify()
                    self._waiting_for_slot = True
                    await waiter.wait(IDLE_POLL_SECONDS)
                    self._waiting_for_slot = False
                    # Let the other attempts finishing in this turn free their slots too,
                    # so the next claim takes a batch rather than one job.
                    await asyncio.sleep(0)
                    continue
                limit = min(free, CLAIM_BATCH)
                waiter.event.clear()
                self._claim_gen += 1
                started = (self._claim_gen, self._activity)
                params = ClaimParams(self.id, limit, lease_seconds, utcnow(), operations)
                try:
                    jobs = await plan.claim(params, plain)  # the hand-off parks when short
                except Exception as exc:
                    log.warning("claim failed, will retry: %s", exc)
                    await waiter.wait(STORE_RETRY_SECONDS)
                    continue
                if jobs:
                    self._launch(jobs)
                    if len(jobs) == limit:
                        continue  # maybe more waiting: claim again at once
                else:
                    self._empty_claim = started
                    self._notify()
                if not self._stopping:
                    await waiter.wait(self._idle_timeout())
        self._wake = None

    def _idle_timeout(self) -> float:
        due = self._next_due
        if due is None:
            return IDLE_POLL_SECONDS
        wait = (due - utcnow()).total_seconds()
        if wait <= 0:
            self._next_due = None
            return 0.0
        return min(IDLE_POLL_SECONDS, wait)

    # -- hand-off host (worker/handoff.py) ---------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stopping

    def free_slots(self) -> int:
        return self.concurrency - self._busy - self._zombies

    def holds(self, job_id: str) -> bool:
        return job_id in self._attempts

    def held_tokens(self) -> list[str]:
        return [a.lease.token for a in self._attempts.values()]

    def launch_handed(self, job: Job) -> None:
        self._launch([job], handed=True)
        self.lro.metrics.handoffs.inc()

    def kick(self) -> None:
        self._kick()

    def _job_fields(self, job: Job) -> dict[str, object]:
        return logs.job_extra(job.id, job.operation, job.attempt, self.id)

    def _launch(self, jobs: Sequence[Job], *, handed: bool = False) -> None:
        assert self._loop is not None and self._executor is not None
        create_task = self._loop.create_task
        run = self._executor.run
        metrics = self.lro.metrics
        for job in jobs:
            op = self.lro.operations[job.operation]  # claims name only our operations
            if job.started_at is not None:
                waited = (job.started_at - job.run_at).total_seconds()
                metrics.operation(job.operation).queue_wait.observe(max(0.0, waited))
            a = self._executor.new_attempt(job, op)
            self._attempts[job.id] = a
            # The attempt's task runs in a context of its own that names the job, so every
            # line logged while it runs carries the job's fields (lro.logs).
            context = contextvars.copy_context()
            context.run(logs.enter_job, self._job_fields(job))
            task = create_task(run(a), context=context)
            a.task = task
            task.add_done_callback(functools.partial(self._attempt_done, a))
            self._busy += 1
        if handed:
            self.stats.handed += len(jobs)
        else:
            self.stats.claimed += len(jobs)

    # -- attempt outcomes -----------------------------------------------------------------
    def _attempt_done(self, a: Attempt, task: asyncio.Task[Outcome]) -> None:
        self._busy -= 1
        self._activity += 1
        thread = a.thread
        if thread is not None and not thread.done():
            self._zombies += 1
            thread.add_done_callback(self._thread_done)
        try:
            outcome = task.result()
        except asyncio.CancelledError:
            outcome = Outcome.RELEASE  # the event loop is being torn down
        except Exception:
            # A bug in the worker itself: the lease expires and the rescuer retries the job.
            log.exception(
                "attempt of job %s crashed in the worker", a.job.id, extra=self._job_fields(a.job)
            )
            outcome = Outcome.LOST
        stats = self.stats
        if outcome is not Outcome.COMPLETING:
            self._forget(a)
            self._measure(a, OUTCOME_LABELS[outcome])
            if outcome is Outcome.RETRIED:
                stats.retried += 1
                if a.retry_at is not None and (
                    self._next_due is None or a.retry_at < self._next_due
                ):
                    self._next_due = a.retry_at
            elif outcome is Outcome.FAILED:
                stats.failed += 1
            elif outcome is Outcome.CANCELLED:
                stats.cancelled += 1
            elif outcome is Outcome.RELEASE:
                self._to_release.append(a.lease)
            else:
                stats.lost += 1
        if self._waiting_for_slot or self._watchers or self._next_due is not None:
            self._kick()
        self._notify()

    def _thread_done(self, _: concurrent.futures.Future[Any]) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(self._zombie_done)

    def _zombie_done(self) -> None:
        self._zombies -= 1
        self._kick()

    def _forget(self, a: Attempt) -> None:
        if self._attempts.get(a.job.id) is a:
            del self._attempts[a.job.id]

    def _on_completed(self, batch: Sequence[Completion], results: Sequence[Job | None]) -> None:
        attempts = self._attempts
        stats = self.stats
        assert self._executor is not None
        for completion, job in zip(batch, results, strict=True):
            self._executor.cleanup.after_completion(completion, job)
            a = attempts.get(completion.lease.job_id)
            if a is not None and a.lease == completion.lease:
                del attempts[completion.lease.job_id]
                self._measure(a, "lost" if job is None else "completed")
            if job is None:
                stats.lost += 1
                log.warning(
                    "job %s: lease lost before its completion was written; result dropped",
                    completion.lease.job_id,
                )
            else:
                stats.completed += 1
        self._notify()

    def _measure(self, a: Attempt, outcome: str) -> None:
        series = self.lro.metrics.operation(a.job.operation)
        series.outcomes[outcome].inc()
        if outcome in TIMED:
            series.duration.observe(time.monotonic() - a.started)

    def _leases(self) -> list[Lease]:
        return [a.lease for a in self._attempts.values()]

    def _running_tasks(self) -> list[asyncio.Task[Outcome]]:
        return [a.task for a in self._attempts.values() if a.task is not None and not a.task.done()]

    # -- interruptions --------------------------------------------------------------------
    def _on_lost(self, lease: Lease) -> None:
        a = self._attempts.get(lease.job_id)
        if a is None or a.lease != lease or a.stop_reason is not None:
            return  # a stale write of an attempt that already ended
        a.ctx.logger.warning("lease on attempt %d lost; stopping the handler", a.job.attempt)
        a.stop_reason = StopReason.LOST
        a.ctx._request_cancel()
        if a.in_handler and a.task is not None:
            a.task.cancel()

    def _on_cancel(self, job_id: str) -> None:
        a = self._attempts.get(job_id)
        if a is None or a.cancel_requested:
            return
        a.cancel_requested = True
        a.ctx._request_cancel()
        a.ctx.logger.info("cancel requested; handler has %g s to stop", self.cancel_grace)
        if self._loop is not None:
            self._loop.call_later(self.cancel_grace, self._interrupt, a, StopReason.CANCEL)

    def _interrupt(self, a: Attempt, reason: StopReason) -> None:
        if a.in_handler and a.stop_reason is None and a.task is not None:
            a.stop_reason = reason
            a.task.cancel()

    async def _wait_tasks(self, tasks: Sequence[asyncio.Task[Outcome]], timeout: float) -> None:
        """Wait for tasks up to `timeout`, or until a second signal forces the issue."""
        if not tasks:
            return
        assert self._loop is not None
        force = self._loop.create_task(self._force.wait())
        pending: set[asyncio.Future[Any]] = set(tasks)
        deadline = time.monotonic() + timeout
        try:
            while pending and not force.done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                done, _ = await asyncio.wait(
                    [*pending, force], timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                pending -= done
        finally:
            force.cancel()

    async def _interrupt_remaining(self) -> None:
        remaining = self._running_tasks()
        if not remaining:
            return
        log.warning("worker %s interrupting %d jobs after the grace", self.id, len(remaining))
        for a in list(self._attempts.values()):
            if a.task is not None and not a.task.done():
                a.ctx._request_cancel()
                self._interrupt(a, StopReason.SHUTDOWN)
        _, pending = await asyncio.wait(remaining, timeout=INTERRUPT_WAIT_SECONDS)
        for task in pending:
            # A handler that swallows cancellation: give its job back anyway; whatever it
            # writes later is fenced out by the released lease.
            for a in list(self._attempts.values()):
                if a.task is task:
                    log.error(
                        "job %s ignores cancellation; releasing it anyway",
                        a.job.id,
                        extra=self._job_fields(a.job),
                    )
                    self._forget(a)
                    self._to_release.append(a.lease)

    async def _release(self) -> None:
        leases, self._to_release = self._to_release, []
        if not leases:
            return
        try:
            released = await self.lro.store.release_jobs(leases, utcnow())
        except Exception as exc:
            log.error("could not release %d jobs (their leases will expire): %s", len(leases), exc)
            return
        count = sum(1 for job in released if job is not None)
        self.stats.released += count
        self.stats.lost += len(leases) - count
        log.info("worker %s released %d jobs back to the queue", self.id, count)
