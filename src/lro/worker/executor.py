"""One attempt of one job: run the handler, then map what happened onto the store.

    handler returned      -> result stored, completion buffered (COMPLETING) for a batch
    JobError / exception  -> retry later (Failure with retry_at) or fail with an ErrorDetail
    timeout               -> the same, with code `timeout`
    JobCancelled / cancel -> cancel_jobs
    worker shutting down  -> RELEASE (the runner gives the lease back, attempt not counted)
    lease lost            -> nothing is written: another worker owns the job now

Interrupting a handler. Async handlers run inside the attempt's own task, so a timeout
(`asyncio.timeout`), a cancel request or a shutdown cancels that task and the handler sees
`CancelledError` at its next `await`. Sync handlers run in the worker's thread pool, and a
thread cannot be killed: the worker sets `ctx.cancelled`, stops waiting for the thread and
ends the attempt (timeout, cancelled or released) at once; the thread runs on until the
handler returns, holding its slot so the worker never over-commits its pool, and whatever
it returns or reports afterwards is dropped (every write is fenced by the lease). A sync
handler that never checks `ctx.cancelled` therefore keeps a slot busy (and, on shutdown,
delays process exit) until it returns on its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import enum
import functools
import json
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from lro import retry, tracing
from lro.context import JobContext
from lro.errors import PROBLEM_BASE, JobCancelled, JobError
from lro.models import Completion, ErrorDetail, Failure, Job, Lease, ResultRef, Status, utcnow
from lro.results import File
from lro.text import nul_pointer, scrub
from lro.worker.cleanup import ResultCleanup
from lro.worker.dependencies import dependency_results
from lro.worker.durable import AttemptDurable, Limits
from lro.worker.writers import CheckpointWriter, PartialWriter

if TYPE_CHECKING:
    from lro.operations import Operation
    from lro.runtime import Runtime
    from lro.worker.buffer import WriteBuffer

log = logging.getLogger("lro.worker")

DETAIL_LIMIT = 500
"""Longest exception message copied into an error's detail; the full text is logged."""


class StopReason(enum.Enum):
    """Why the worker interrupted a running handler."""

    CANCEL = "cancel"
    """The job's cancel was requested and the handler did not end within the grace."""
    SHUTDOWN = "shutdown"
    """The worker is stopping and the shutdown grace ran out."""
    LOST = "lost"
    """The lease is no longer ours (expired and rescued); stop without writing."""


class Outcome(enum.Enum):
    COMPLETING = "completing"
    """The handler finished; its completion waits in the WriteBuffer and counts as
    completed once committed (the runner hears of it from the buffer)."""
    RETRIED = "retried"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RELEASE = "release"
    LOST = "lost"


class Attempt:
    """One claimed run of a job, from claim until its last store write is resolved."""

    __slots__ = (
        "cancel_requested",
        "ctx",
        "durable",
        "in_handler",
        "job",
        "lease",
        "op",
        "retry_at",
        "started",
        "stop_reason",
        "task",
        "thread",
    )

    def __init__(self, job: Job, op: Operation, lease: Lease) -> None:
        self.job = job
        self.durable: AttemptDurable | None = None
        """Steps, checkpoints and partials, once made (`Executor._durable_state`: on the
        handler's first use, or before a retry runs); None until then, and on a store
        without them."""
        self.op = op
        self.lease = lease
        self.ctx: JobContext
        self.task: asyncio.Task[Outcome] | None = None
        self.thread: concurrent.futures.Future[Any] | None = None
        self.in_handler = False
        self.cancel_requested = False
        self.stop_reason: StopReason | None = None
        self.retry_at: datetime | None = None
        """Set when the attempt failed and the job was re-queued to run at this time."""
        self.started = time.monotonic()
        """When the worker launched it: the start of its run time in the metrics."""


class _TimedOut(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class _ResultError(Exception):
    """The handler finished, but its return value cannot be stored."""

    def __init__(self, error: JobError) -> None:
        super().__init__(error.detail)
        self.error = error


def error_type(code: str) -> str:
    return PROBLEM_BASE + code.replace("_", "-")


def error_for(exc: BaseException, attempts: int) -> ErrorDetail:
    """The client-facing error for an exception: a `JobError` chooses its own code, title
    and detail; anything else is `handler_error` naming the exception type and message
    (truncated), never a traceback."""
    if isinstance(exc, JobError):
        return ErrorDetail(
            type=error_type(scrub(exc.code)),
            title=scrub(exc.title),
            detail=scrub(exc.detail),
            code=scrub(exc.code),
            retryable=exc.retryable,
            attempts=attempts,
        )
    message = scrub(str(exc))
    if len(message) > DETAIL_LIMIT:
        message = message[:DETAIL_LIMIT] + "…"
    name = type(exc).__name__
    return ErrorDetail(
        type=error_type("handler_error"),
        title="The job's handler raised an unexpected error",
        detail=f"The handler raised {name}: {message}" if message else f"The handler raised {name}",
        code="handler_error",
        retryable=True,
        attempts=attempts,
    )


def timeout_error(seconds: float, attempts: int) -> ErrorDetail:
    return ErrorDetail(
        type=error_type("timeout"),
        title="The job took longer than its time limit",
        detail=(
            f"The attempt was stopped after the operation's timeout of {seconds:g} s. "
            f"Submit smaller input, or raise the operation's timeout."
        ),
        code="timeout",
        retryable=True,
        attempts=attempts,
    )


class Executor:
    """Runs attempts; owned by one Worker, sharing its thread pool and write buffer."""

    def __init__(
        self,
        lro: Runtime,
        buffer: WriteBuffer,
        pool: concurrent.futures.ThreadPoolExecutor,
    ) -> None:
        self._lro = lro
        self._store = lro.store
        self._settings = lro.settings
        self._buffer = buffer
        self._pool = pool
        self.cleanup = ResultCleanup(lro)
        steps = self._store.steps
        settings = self._settings
        self._limits = Limits(
            settings.max_partials_bytes,
            settings.max_checkpoint_bytes,
            settings.max_step_result_bytes,
        )
        self.partials = None if steps is None else PartialWriter(steps)
        self.checkpoints = (
            None
            if steps is None or self.partials is None
            else CheckpointWriter(steps, self.partials)
        )

    def new_attempt(self, job: Job, op: Operation) -> Attempt:
        assert job.lease_token is not None, "claimed jobs carry a lease token"
        lease = Lease(job.id, job.lease_token)
        buffer = self._buffer
        a = Attempt(job, op, lease)
        make = None
        if self.checkpoints is not None:
            make = functools.partial(self._durable_state, a, asyncio.get_running_loop())
        a.ctx = JobContext(
            job,
            result_store=self._lro.result_store,
            lease=lease,
            on_progress=lambda pct, step: buffer.note_progress(lease, pct, step),
            durable=make,
        )
        return a

    def _durable_state(self, a: Attempt, loop: asyncio.AbstractEventLoop) -> AttemptDurable:
        """The attempt's steps, checkpoints and partials, made once; `loop` is the
        worker's, taken at the claim, since a sync handler's first call comes from its
        own thread."""
        if a.durable is None:
            steps, checkpoints, partials = self._store.steps, self.checkpoints, self.partials
            assert steps is not None and checkpoints is not None and partials is not None
            count = self._lro.metrics.operation(a.job.operation).long_job
            a.durable = AttemptDurable(
                steps, a.lease, loop, checkpoints, partials, self._limits, count
            )
        return a.durable

    async def run(self, a: Attempt) -> Outcome:
        """Run the handler and record the outcome; returns what happened."""
        try:
            if not tracing.enabled():  # the span's context manager costs a job a few µs
                return await self._run(a)
            with tracing.attempt_span(a.job, a.job.worker_id) as span:
                outcome = await self._run(a)
                tracing.set_outcome(span, outcome.value)
                return outcome
        finally:
            self.cleanup.end_staging(a.lease, a.ctx, a.thread)

    async def _run(self, a: Attempt) -> Outcome:
        # Requested between the claim and this task's first step, or before the claim: a
        # job released (shutdown) after its cancel was requested comes back with the flag
        # set, and its handler must not run again.
        if a.cancel_requested or a.job.cancel_requested:
            return await self._cancel(a)
        try:
            # A job that ran before (a first claim is version 2) may have steps and a
            # checkpoint to resume from; a first run reads nothing.
            if self.checkpoints is not None and a.job.version > 2:
                await self._durable_state(a, asyncio.get_running_loop()).load()
            if a.job.depends_on:
                a.ctx.dependency_results = await dependency_results(self._lro.store, a.job)
            value = await self._invoke(a)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if a.stop_reason is None:
                if task is not None and task.cancelling():
                    raise  # cancelled from outside the worker (event loop shutting down)
                # The handler raised CancelledError on its own: an error like any other.
                return await self._failed(a, RuntimeError("handler raised CancelledError"))
            if task is not None:
                task.uncancel()
            return await self._interrupted(a)
        except _TimedOut as exc:
            if a.stop_reason is not None or a.cancel_requested:
                return await self._interrupted(a)
            a.ctx.logger.warning("attempt %d timed out after %g s", a.job.attempt, exc.seconds)
            return await self._fail_with(a, timeout_error(exc.seconds, a.job.attempt))
        except JobCancelled:
            return await self._cancel(a)
        except Exception as exc:
            if a.stop_reason is not None or a.cancel_requested:
                return await self._interrupted(a)
            return await self._failed(a, exc)
        if a.stop_reason is not None or a.cancel_requested:
            return await self._interrupted(a)
        try:
            completion = await self._completion(a, value)
        except _ResultError as exc:
            return await self._failed(a, exc.error)
        except Exception as exc:
            return await self._failed(
                a, JobError(f"Storing the result failed: {exc}", code="result_store_error")
            )
        if completion is None:
            return self._lost(a, "before its result was stored")
        await self._settle(a)
        step = a.ctx.last_step
        if completion.step is None and step is not None:
            # The handler's last word on what it did, whatever became of its last progress
            # write (one still in flight loses to this completion: see worker/buffer.py).
            completion = dataclasses.replace(completion, step=step)
        self._buffer.add_completion(completion)
        return Outcome.COMPLETING

    # -- running the handler --------------------------------------------------------------
    async def _invoke(self, a: Attempt) -> Any:
        op = a.op
        if op.takes_params:
            try:
                params = op.params_model.model_validate(a.job.params)
            except ValidationError as exc:
                raise JobError(
                    "The stored params no longer match the operation's model: "
                    + str(exc)[:DETAIL_LIMIT],
                    code="invalid_params",
                    title="The job's parameters are not valid",
                    retryable=False,
                ) from None
            args: tuple[Any, ...] = (a.ctx, params)
        else:
            args = (a.ctx,)
        seconds = a.job.timeout_seconds
        a.in_handler = True
        try:
            if op.is_async:
                if seconds is None:
                    return await op.handler(*args)
                return await self._with_timeout(a, op.handler(*args), seconds)
            # In the attempt's context, so the handler's log lines carry the job's fields.
            call = functools.partial(op.handler, *args)
            a.thread = self._pool.submit(contextvars.copy_context().run, call)
            waiting = asyncio.wrap_future(a.thread)
            if seconds is None:
                return await waiting
            return await self._with_timeout(a, waiting, seconds)
        finally:
            a.in_handler = False

    @staticmethod
    async def _with_timeout(a: Attempt, awaitable: Any, seconds: float) -> Any:
        cm = asyncio.timeout(seconds)
        try:
            async with cm:
                return await awaitable
        except TimeoutError:
            if not cm.expired():
                raise  # the handler's own TimeoutError: a handler error
            a.ctx._request_cancel()  # a sync handler's thread runs on; tell it to stop
            raise _TimedOut(seconds) from None

    # -- results --------------------------------------------------------------------------
    async def _completion(self, a: Attempt, value: Any) -> Completion | None:
        """The Completion for the handler's return value, storing files first."""
        if value is None:
            return Completion(a.lease)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        if isinstance(value, File | bytes | bytearray | memoryview):
            return await self._store_artifact(a, value)
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise _ResultError(
                JobError(
                    f"The handler returned a {type(value).__name__} that cannot be stored as "
                    f"JSON ({exc}). Return JSON-compatible data, bytes or lro.File.",
                    code="result_not_serializable",
                    title="The job's result could not be stored",
                    retryable=False,
                )
            ) from None
        # A NUL cannot be stored inline everywhere (lro.text); as a file it is kept as is.
        inline = "\\u0000" not in text or nul_pointer(value) is None
        if inline and len(text) <= self._settings.inline_result_bytes:  # ASCII: chars == bytes
            return Completion(a.lease, result=value)
        return await self._store_artifact(a, text.encode(), "application/json", "result.json")

    async def _store_artifact(
        self,
        a: Attempt,
        value: File | bytes | bytearray | memoryview,
        content_type: str = "application/octet-stream",
        filename: str | None = None,
    ) -> Completion | None:
        # Safety does not rest on this check: the attempt stores under its own key, and the
        # job only ever points at what its fenced completion recorded (lro.results.base).
        # It spares a worker that already lost the job an upload nobody would read.
        if not await self._still_held(a):
            return None
        results = self._lro.result_store
        ref: ResultRef
        if isinstance(value, File):
            ref = await results.put_file(a.lease, value)
        else:
            ref = await results.put_bytes(a.lease, bytes(value), content_type, filename)
        if a.stop_reason is StopReason.LOST:  # lost during a long upload
            self.cleanup.discard(a.job.id, ref)
            return None
        return Completion(a.lease, result_ref=ref)

    async def _still_held(self, a: Attempt) -> bool:
        [beat] = await self._store.heartbeat([a.lease], self._settings.lease_seconds, utcnow())
        return beat.alive

    # -- failures -------------------------------------------------------------------------
    async def _failed(self, a: Attempt, exc: BaseException) -> Outcome:
        error = error_for(exc, a.job.attempt)
        if not isinstance(exc, JobError):
            a.ctx.logger.error(
                "attempt %d of %s raised %s",
                a.job.attempt,
                a.job.operation,
                type(exc).__name__,
                exc_info=exc,
            )
        return await self._fail_with(a, error)

    async def _flush_progress(self, a: Attempt) -> None:
        """Write an ending attempt's last unwritten progress, so a failed or cancelled job
        shows the percentage and step it stopped at (a retry resets progress anyway)."""
        await self._buffer.progress_settled(a.job.id)
        update = self._buffer.take_progress(a.job.id)
        if update is None:
            return
        try:
            await self._store.set_progress([update], utcnow())
        except Exception as exc:  # advisory: never let it stop the outcome being recorded
            a.ctx.logger.warning("could not write the last progress: %s", exc)

    async def _settle(self, a: Attempt) -> None:
        """Write the attempt's partials before its outcome: a job's partials are all
        stored before its terminal state is. Bounded by the lease: past it, the
        outcome's own write would be refused anyway."""
        if a.durable is None or not a.durable.wrote:
            return  # most jobs write none: no task, timer or loop turn for them
        try:
            await asyncio.wait_for(a.durable.settle(), self._settings.lease_seconds)
        except TimeoutError:
            a.ctx.logger.warning("partial results still unwritten when the attempt ended")

    async def _fail_with(self, a: Attempt, error: ErrorDetail) -> Outcome:
        await self._settle(a)
        job = a.job
        now = utcnow()
        if retry.should_retry(job.attempt, job.max_attempts, error.retryable):
            when = self._lro.retry_policy.next_attempt_at(now, job.operation, job.attempt)
            a.ctx.logger.info(
                "attempt %d/%d failed (%s: %s); retrying at %s",
                job.attempt,
                job.max_attempts,
                error.code,
                error.detail,
                when.isoformat(),
            )
            failure = Failure(a.lease, error, retry_at=when)
            outcome = Outcome.RETRIED
            a.retry_at = when
            self._buffer.drop_progress(job.id)
        else:
            await self._flush_progress(a)
            now = utcnow()
            a.ctx.logger.warning(
                "failed on attempt %d/%d: %s: %s",
                job.attempt,
                job.max_attempts,
                error.code,
                error.detail,
            )
            failure = Failure(a.lease, error)
            outcome = Outcome.FAILED
        [stored] = await self._store.fail_jobs([failure], now, self._settings.retention_seconds)
        if stored is None:
            return self._lost(a, "before its failure was recorded")
        if stored.status is Status.CANCELLED:  # its cancel was requested: no retry
            a.ctx.logger.info("cancelled on attempt %d (cancel requested)", job.attempt)
            return Outcome.CANCELLED
        return outcome

    async def _cancel(self, a: Attempt) -> Outcome:
        await self._settle(a)
        await self._flush_progress(a)
        [stored] = await self._store.cancel_jobs(
            [a.lease], utcnow(), self._settings.retention_seconds
        )
        if stored is None:
            return self._lost(a, "before its cancellation was recorded")
        a.ctx.logger.info("cancelled on attempt %d", a.job.attempt)
        return Outcome.CANCELLED

    async def _interrupted(self, a: Attempt) -> Outcome:
        """The worker stopped the handler (or asked it to stop and it obeyed)."""
        if a.stop_reason is StopReason.LOST:
            return self._lost(a, "while its handler was running")
        if a.cancel_requested:
            return await self._cancel(a)
        # Shutdown: the runner releases every such lease in one batch.
        await self._settle(a)
        self._buffer.drop_progress(a.job.id)
        return Outcome.RELEASE

    def _lost(self, a: Attempt, when: str) -> Outcome:
        self._buffer.drop_progress(a.job.id)
        a.ctx.logger.warning(
            "lease on attempt %d lost %s; another worker owns the job now, dropping this "
            "attempt's outcome",
            a.job.attempt,
            when,
        )
        return Outcome.LOST
