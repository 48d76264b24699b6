"""One attempt's durable state (`ctx.run_step`, `ctx.checkpoint`, `ctx.partial`;
HTTP-CONTRACT §14), written through the store's long-jobs part with the attempt's lease.

A step is memoised per job: the executor reads what earlier attempts completed before
the handler starts (only for a job that ran before: a first claim has nothing stored),
and a step found there returns its stored result without running. A step that runs is
recorded `running`, then `completed` with its JSON result (or `failed`), each write
fenced; a refused write means another worker owns the job, so the handler is stopped
with `LeaseLost` rather than run on for nothing.

Sync handlers call the `_sync` variants from their thread; the store calls hop to the
event loop (`run_coroutine_threadsafe`) and the step's function runs in the calling
thread.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from lro import tracing
from lro.errors import LeaseLost
from lro.models import Lease, utcnow
from lro.store.steps import Resume, Steps
from lro.text import nul_pointer
from lro.worker.writers import CheckpointWriter, PartialWriter

T = TypeVar("T")

MAX_STEP_NAME = 200


@dataclass(frozen=True, slots=True)
class Limits:
    """Sizes of JSON text (LRO_MAX_PARTIALS_BYTES, LRO_MAX_CHECKPOINT_BYTES,
    LRO_MAX_STEP_RESULT_BYTES): a job's store rows stay bounded."""

    partials: int = 67_108_864
    checkpoint: int = 1_048_576
    step_result: int = 1_048_576


def _too_large(what: str, size: int, limit: int, setting: str) -> ValueError:
    return ValueError(
        f"{what} is {size:,} bytes of JSON, over the limit of {limit:,} ({setting}); "
        f"store large data as a file (ctx.result_path) and keep a reference instead"
    )


def as_json(value: Any, what: str, limit: int | None = None, setting: str = "") -> Any:
    """The value as it will be read back (tuples become lists...), or TypeError; a
    ValueError for U+0000, which PostgreSQL's jsonb cannot hold (lro.text), so that no
    backend stores what another would refuse, and for a value over `limit`."""
    return json_text(value, what, limit, setting)[0]


def json_text(
    value: Any, what: str, limit: int | None = None, setting: str = ""
) -> tuple[Any, int]:
    """`as_json`, and the length of the value's JSON text."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what} must be JSON-serialisable: got a {type(value).__name__} ({exc})"
        ) from None
    if "\\u0000" in text:
        where = nul_pointer(value)
        raise ValueError(f"{what} must not contain U+0000 (NUL), found at {where or '/'}")
    if limit is not None and len(text) > limit:
        raise _too_large(what, len(text), limit, setting)
    return json.loads(text), len(text)


class AttemptDurable:
    """The `lro.context.Durable` of one attempt."""

    def __init__(
        self,
        steps: Steps,
        lease: Lease,
        loop: asyncio.AbstractEventLoop,
        checkpoints: CheckpointWriter,
        partials: PartialWriter,
        limits: Limits | None = None,
        count: Callable[[str], None] | None = None,
    ) -> None:
        self._steps = steps
        self._count = count or _ignore
        """Told each step outcome and partial (`OperationMetrics.long_job`)."""
        self._lease = lease
        self._loop = loop
        self._checkpoints = checkpoints
        self._partials = partials
        self._resume = Resume()
        self._limits = limits or Limits()
        self._partial_bytes = 0
        """The JSON text of the job's partials so far: earlier attempts' and this one's."""
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.wrote = False
        """Whether this attempt made a partial or checkpoint: the executor only waits for
        writes that exist (set in the handler's thread before its hand-over is queued)."""

    async def load(self) -> None:
        """Read what earlier attempts left (the executor calls it before the handler)."""
        self._resume = await self._steps.resume(self._lease.job_id)
        self._partial_bytes += self._resume.partial_bytes

    @property
    def last_checkpoint(self) -> Any:
        return self._resume.checkpoint

    def _lost(self, what: str) -> LeaseLost:
        return LeaseLost(
            f"job {self._lease.job_id}: {what} was refused: this attempt lost its lease "
            f"and another worker owns the job now"
        )

    # -- steps ----------------------------------------------------------------------------
    def _claim_name(self, name: str) -> tuple[bool, Any]:
        """(found, stored result); raises on a bad or repeated name."""
        if not isinstance(name, str) or not name or len(name) > MAX_STEP_NAME:
            raise ValueError(f"a step name is a string of 1-{MAX_STEP_NAME} characters")
        with self._lock:
            if name in self._seen:
                raise ValueError(
                    f"step {name!r} was already run by this attempt: step names are "
                    f"unique within a job"
                )
            self._seen.add(name)
        if name in self._resume.completed:
            self._count("replayed")
            return True, self._resume.completed[name]
        return False, None

    async def _start(self, name: str) -> None:
        if not await self._steps.start_step(self._lease, name, utcnow()):
            raise self._lost(f"starting step {name!r}")

    async def _failed(self, name: str) -> None:
        # A step that failed did not run to its end: the handler may try it again.
        with self._lock:
            self._seen.discard(name)
        self._count("failed")
        await self._steps.fail_step(self._lease, name, utcnow())

    async def _finish(self, name: str, value: Any) -> Any:
        try:
            limit = self._limits.step_result
            stored = as_json(
                value, f"the result of step {name!r}", limit, "LRO_MAX_STEP_RESULT_BYTES"
            )
        except (TypeError, ValueError):
            await self._failed(name)
            raise
        if not await self._steps.finish_step(self._lease, name, stored, utcnow()):
            raise self._lost(f"recording step {name!r}")
        self._count("completed")
        return stored

    async def run_step(self, name: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        found, stored = self._claim_name(name)
        if found:
            return stored
        with tracing.step_span(name):
            await self._start(name)
            try:
                if inspect.iscoroutinefunction(fn):
                    value = await fn(*args)
                else:
                    value = await asyncio.to_thread(fn, *args)
                    if inspect.isawaitable(value):
                        value = await value
            except Exception:
                await self._failed(name)
                raise
            return await self._finish(name, value)

    def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        if _running_loop() is self._loop:
            coro.close()
            raise RuntimeError(
                "the _sync methods are for sync handlers; in an async handler use "
                "await ctx.run_step(...) / await ctx.checkpoint(...)"
            )
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def run_step_sync(self, name: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        found, stored = self._claim_name(name)
        if found:
            return stored
        with tracing.step_span(name):
            self._on_loop(self._start(name))
            try:
                value = fn(*args)
                if inspect.isawaitable(value):
                    value = self._on_loop(_awaited(value))
            except Exception:
                self._on_loop(self._failed(name))
                raise
            return self._on_loop(self._finish(name, value))

    # -- checkpoints ----------------------------------------------------------------------
    def checkpoint(self, value: Any) -> Awaitable[None]:
        """Record the checkpoint (coalesced with the job's others, latest wins); the
        awaitable returns once it is durable. From a handler thread: recorded only."""
        stored = self._checkpoint_value(value)
        self.wrote = True
        if _running_loop() is not self._loop:
            self._loop.call_soon_threadsafe(self._checkpoints.note, self._lease, stored)
            return _DONE
        return _Written(self._checkpoints.note(self._lease, stored), self._lost("a checkpoint"))

    def _checkpoint_value(self, value: Any) -> Any:
        return as_json(value, "a checkpoint", self._limits.checkpoint, "LRO_MAX_CHECKPOINT_BYTES")

    def checkpoint_sync(self, value: Any) -> None:
        stored = self._checkpoint_value(value)
        self.wrote = True
        if not self._on_loop(self._checkpoints.put(self._lease, stored)):
            raise self._lost("a checkpoint")

    # -- partials -------------------------------------------------------------------------
    def partial(self, value: Any) -> None:
        stored, size = json_text(value, "a partial result")
        with self._lock:
            total = self._partial_bytes + size
            if total > self._limits.partials:
                raise _too_large(
                    "the job's partial results",
                    total,
                    self._limits.partials,
                    "LRO_MAX_PARTIALS_BYTES",
                )
            self._partial_bytes = total
        self._count("partial")
        self.wrote = True
        if _running_loop() is self._loop:
            self._partials.add(self._lease, stored)
        else:  # a sync handler's thread: FIFO onto the loop keeps the order
            self._loop.call_soon_threadsafe(self._partials.add, self._lease, stored)

    async def settle(self) -> None:
        """Wait until every partial and checkpoint this attempt made is written (or
        refused): a retry resumes from the last checkpoint, awaited or not."""
        await self._partials.settle(self._lease.job_id)
        await self._checkpoints.settle(self._lease.job_id)


def _ignore(event: str) -> None:
    pass


async def _awaited(value: Any) -> Any:
    return await value


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _Written:
    """Awaited: returns once the checkpoint is committed, or raises LeaseLost. Not a
    coroutine, so a plain call that never awaits it leaves no warning behind."""

    __slots__ = ("_future", "_lost")

    def __init__(self, future: asyncio.Future[bool], lost: LeaseLost) -> None:
        self._future = future
        self._lost = lost

    def __await__(self) -> Generator[Any, None, None]:
        held = yield from self._future.__await__()
        if not held:
            raise self._lost


class _Done:
    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield from ()


_DONE = _Done()
