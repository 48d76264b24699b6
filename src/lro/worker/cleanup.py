"""What a worker deletes from the result store, so objects no job points at do not pile up.

Every attempt writes under names of its own (lro.results.base), so none of this is needed
for a correct result: it only removes what nobody will read.

    an attempt ends                     its staging directory (local files)
    a completion the fence refused      the object that attempt stored
    a completion on attempt 2 or later  every other attempt's objects (a worker killed
                                        after storing, a zombie's late upload)

All of it is best effort, in background tasks drained on shutdown: `DELETE` and the
retention sweeper remove every object of a job anyway.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lro.context import JobContext
from lro.models import Completion, Job, Lease, ResultRef

if TYPE_CHECKING:
    from lro.runtime import Runtime

log = logging.getLogger("lro.worker")

DRAIN_SECONDS = 10.0
"""On shutdown, how long clean-ups still running get to finish."""


class ResultCleanup:
    def __init__(self, lro: Runtime) -> None:
        self._lro = lro
        self._tasks: set[asyncio.Task[None]] = set()

    def after_completion(self, completion: Completion, job: Job | None) -> None:
        """A completion's write is resolved (`job` is None when the fence refused it)."""
        ref = completion.result_ref
        job_id = completion.lease.job_id
        if job is None:
            if ref is not None:
                self.discard(job_id, ref)
        elif job.attempt > 1:
            results = self._lro.result_store
            self._spawn(
                "earlier attempts' results", job_id, lambda: results.delete_job(job_id, keep=ref)
            )

    def discard(self, job_id: str, ref: ResultRef) -> None:
        """Delete one stored object no job will point at."""
        results = self._lro.result_store
        self._spawn("a result nobody will read", job_id, lambda: results.delete(job_id, ref))

    def end_staging(
        self, lease: Lease, ctx: JobContext, thread: concurrent.futures.Future[Any] | None
    ) -> None:
        """Drop an ended attempt's staging once nothing writes to it: now, or when a sync
        handler's thread that outlived the attempt (timeout, lost lease) returns.
        Attempts that never asked for a result path have none, and cost nothing."""

        def end() -> None:
            if ctx._staged:
                results = self._lro.result_store
                self._spawn("staging files", lease.job_id, lambda: results.end_attempt(lease))

        if thread is None or thread.done():
            end()
            return
        loop = asyncio.get_running_loop()

        def later(_: concurrent.futures.Future[Any]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                loop.call_soon_threadsafe(end)

        thread.add_done_callback(later)

    def _spawn(self, what: str, job_id: str, clean: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.get_running_loop().create_task(_run(what, job_id, clean))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Let clean-ups still running finish (bounded), on shutdown."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=DRAIN_SECONDS)


async def _run(what: str, job_id: str, clean: Callable[[], Awaitable[None]]) -> None:
    try:
        await clean()
    except Exception as exc:  # best effort: the job's deletion removes them anyway
        log.warning("job %s: could not delete %s: %s", job_id, what, exc)
