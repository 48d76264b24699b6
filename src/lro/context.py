"""JobContext: what a handler gets besides its params — progress, cancellation, identity."""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from pathlib import Path
from typing import Any, Protocol

from lro.errors import JobCancelled, LongJobsUnsupported
from lro.models import Job, Lease
from lro.results import ResultStore
from lro.text import scrub

_log = logging.getLogger("lro.job")


class _Done:
    """An already-finished awaitable, so `await ctx.progress(...)` works in async handlers
    and a plain `ctx.progress(...)` works in sync ones (no coroutine left un-awaited)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield from ()


_DONE = _Done()

ProgressSink = Callable[[float, "str | None"], None]


class Durable(Protocol):
    """What makes a long job survive its worker (HTTP-CONTRACT §14): the worker's
    implementation (`lro.worker.durable`) writes steps, checkpoints and partials to the
    store, fenced by the attempt's lease."""

    @property
    def last_checkpoint(self) -> Any: ...

    async def run_step(self, name: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any: ...

    def run_step_sync(self, name: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any: ...

    def checkpoint(self, value: Any) -> Awaitable[None]: ...

    def checkpoint_sync(self, value: Any) -> None: ...

    def partial(self, value: Any) -> None: ...


class JobLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every message with the job id (and passes `job_id` / `operation` as
    `extra`), so a worker's interleaved log lines can be told apart without a custom
    formatter."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        return f"job {extra.get('job_id')}: {msg}", kwargs


class JobContext:
    """Handed to every handler call. Thread-safe: sync handlers run in a thread pool.

    Progress is recorded in memory and written to the store by the worker, coalesced
    (at most one write per job per flush interval), so calling it in a tight loop is cheap.
    """

    def __init__(
        self,
        job: Job,
        *,
        result_store: ResultStore,
        on_progress: ProgressSink,
        logger: logging.Logger | None = None,
        lease: Lease | None = None,
        durable: Callable[[], Durable] | None = None,
    ) -> None:
        self.job_id = job.id
        self.operation = job.operation
        self.attempt = job.attempt
        self.max_attempts = job.max_attempts
        self._worker_id = job.worker_id
        self.params: Any = job.params
        self.tags: list[str] = list(job.tags)
        """The job's tags (HTTP-CONTRACT §15); they are not part of `params`."""
        self.metadata: dict[str, Any] = dict(job.metadata or {})
        """The job's metadata object (empty when the submit gave none)."""
        self.dependency_results: dict[str, Any] = {}
        """Job id -> JSON result of each job this one depends on (HTTP-CONTRACT §17),
        read when the attempt starts; None for a failed or cancelled one (with policy
        `always`) and for a result that is a file."""
        self._base_logger = logger or _log
        self._logger: JobLogger | None = None
        self._result_store = result_store
        self._lease = lease or Lease(job.id, job.lease_token or "")
        self._staged = False
        """Whether the handler asked for a result path (so there is staging to clean up)."""
        self._on_progress = on_progress
        self._cancel = False
        """Set on the loop, read from handler threads: a bool is enough (nothing waits
        on it), and a threading.Event would cost every job 1.5 us to create."""
        self._lock = threading.Lock()
        self._pct = 0.0
        self._step: str | None = None
        self._make_durable = durable
        """Builds the attempt's long-job state on first use: most handlers never take a
        step, checkpoint or partial, and a worker running thousands of short jobs a second
        should not pay for it per job (like `logger`)."""
        self._durable: Durable | None = None

    @property
    def logger(self) -> JobLogger:
        """A logger whose records carry `job_id`, `operation`, `attempt` and `worker_id`
        (as `extra`).

        Built on first use: most handlers never log, and a worker running thousands of
        short jobs a second should not pay for an adapter per job.
        """
        if self._logger is None:
            self._logger = JobLogger(
                self._base_logger,
                {
                    "job_id": self.job_id,
                    "operation": self.operation,
                    "attempt": self.attempt,
                    "worker_id": self._worker_id,
                },
            )
        return self._logger

    @property
    def progress_pct(self) -> float:
        return self._pct

    @property
    def last_step(self) -> str | None:
        """The step text last reported (None before any)."""
        return self._step

    def progress(self, pct: float, step: str | None = None) -> _Done:
        """Report progress 0-100 (clamped; never goes backwards) and optional step text."""
        if pct != pct:  # NaN
            raise ValueError("progress must be a number between 0 and 100")
        with self._lock:
            self._pct = max(self._pct, min(100.0, max(0.0, float(pct))))
            if step is not None:
                self._step = scrub(step[:500])
            pct_now, step_now = self._pct, self._step
        self._on_progress(pct_now, step_now)
        return _DONE

    def step(self, text: str) -> _Done:
        """Change the step text without moving the percentage."""
        return self.progress(self._pct, text)

    @property
    def cancelled(self) -> bool:
        """True once the handler should stop: the job's cancel was requested, the attempt
        timed out, or the worker is shutting down. Long handlers (sync ones above all,
        which cannot be interrupted) should check it and return or `raise_if_cancelled()`."""
        return self._cancel

    def raise_if_cancelled(self) -> None:
        if self._cancel:
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def result_path(self, filename: str) -> Path:
        """A path to write the job's artifact to; return `lro.File(path)` when done.

        The path belongs to this attempt alone: a retry, or another worker that took the
        job over, gets a different one, so no other run can write into this file (and a
        retried attempt always starts from an empty directory)."""
        self._staged = True
        return self._result_store.staging_path(self._lease, filename)

    def _request_cancel(self) -> None:
        """Called by the worker when the store reports a cancel request, the attempt timed
        out, or the worker is shutting down: in each case the handler should stop."""
        self._cancel = True

    # -- long jobs (HTTP-CONTRACT §14) ---------------------------------------------------
    def _long(self) -> Durable:
        durable = self._durable
        if durable is not None:
            return durable
        if self._make_durable is None:
            raise LongJobsUnsupported(
                "this store backend does not keep steps, checkpoints or partial results "
                "(Store.steps is None); use SQLite or PostgreSQL for long jobs"
            )
        with self._lock:  # a sync handler may call from several threads of its own
            if self._durable is None:
                self._durable = self._make_durable()
            return self._durable

    async def run_step(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` (sync or async) once per job and return its JSON result: a
        later attempt of this job that reaches the same step name gets the stored value
        without calling `fn`. Names are unique within a job. A sync `fn` runs in a thread.
        A result that is not JSON raises TypeError here, naming the step."""
        return await self._long().run_step(name, fn, args)

    def run_step_sync(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """`run_step` for sync handlers (call it from the handler's thread)."""
        return self._long().run_step_sync(name, fn, args)

    def checkpoint(self, value: Any) -> Awaitable[None]:
        """Store one JSON value for this job (the latest wins); the next attempt reads it
        as `ctx.last_checkpoint`. `await ctx.checkpoint(v)` returns once it is durable.
        Like `progress`, it may also be called without `await` (cheap enough for every
        item of a long loop): then it is written soon, coalesced with the job's later
        checkpoints, and a crash may lose the last few (the run resumes a little earlier)."""
        return self._long().checkpoint(value)

    def checkpoint_sync(self, value: Any) -> None:
        """`checkpoint` for sync handlers."""
        self._long().checkpoint_sync(value)

    @property
    def last_checkpoint(self) -> Any:
        """The checkpoint an earlier attempt of this job stored; None on the first run."""
        return None if self._make_durable is None else self._long().last_checkpoint

    def partial(self, value: Any) -> _Done:
        """Append one JSON value to the job's partial results (streamed as SSE `partial`
        events, read at /partials). Like `progress`, a plain call that may be awaited;
        every partial is stored before the job's terminal state."""
        self._long().partial(value)
        return _DONE
