"""The cost of a long job's durable calls (HTTP-CONTRACT §14): per checkpoint, per step and
per partial, in microseconds of handler time and in store writes, on SQLite and (with
--pg) PostgreSQL and (with --redis) Redis.

    .venv/bin/python bench/checkpoints.py [--items 100000] [--jobs 8] [--pg] [--redis]

Each figure runs a real worker in this process on a fresh database, with handlers that do
nothing but the call under test in a loop, and compares with the same loop without it:

* checkpoint, 1 job: `await ctx.checkpoint({"next": i})` per item of one job (each call
  returns only once its value is committed: one write per call);
* checkpoint, N jobs: the same in N jobs at once, where the worker groups the concurrent
  calls into one transaction (writes per checkpoint < 1);
* checkpoint not awaited: `ctx.checkpoint(...)` per item as a plain call (coalesced like
  progress: the latest value goes out with each store round trip; the last one is
  written before the job's outcome);
* step: `await ctx.run_step(f"item {i}", fn)` with a trivial `fn` (two fenced writes:
  running, then completed);
* partial: `ctx.partial({"row": i})` (buffered; the figure is the handler's time plus the
  time until all are stored, and the writes they took).

This is a measurement, not a test: nothing is asserted. Store writes are counted by the
worker's own writers (`CheckpointWriter.writes`, `PartialWriter.writes`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from lro import LRO, JobContext, Settings, Status
from lro.worker.executor import Executor

ROOT = Path(__file__).resolve().parents[1]
"""The repository root, for tests.support.postgres (a fresh database, as tests get)."""


class Loop(BaseModel):
    items: int
    kind: str


@dataclass
class Figure:
    name: str
    calls: int
    seconds: float
    baseline: float
    writes: int

    def row(self) -> str:
        per_call = (self.seconds - self.baseline) / self.calls * 1e6
        per_write = self.writes / self.calls if self.calls else 0.0
        return (
            f"| {self.name} | {self.calls:,} | {self.seconds:.2f} | {per_call:,.1f} "
            f"| {self.writes:,} | {per_write:.4f} |"
        )


async def handler(ctx: JobContext, params: Loop) -> float:
    """Returns the seconds its loop took (the handler's own time, not the queue's)."""
    start = time.perf_counter()
    if params.kind == "checkpoint":
        for i in range(params.items):
            await ctx.checkpoint({"next": i + 1})
    elif params.kind == "plain checkpoint":
        for i in range(params.items):
            ctx.checkpoint({"next": i + 1})
            await asyncio.sleep(0)  # a loop body that awaits something, as real ones do
    elif params.kind == "step":
        for i in range(params.items):
            await ctx.run_step(f"item {i}", _one)
    elif params.kind == "partial":
        for i in range(params.items):
            ctx.partial({"row": i})
    else:
        for i in range(params.items):
            await _baseline(i)
    return time.perf_counter() - start


async def _one() -> int:
    return 1


async def _baseline(i: int) -> None:
    """The loop body without the call: one await, as every durable call has."""
    await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def app_on(url: str, tmp: Path) -> AsyncIterator[LRO]:
    settings = Settings(store_url=url, result_dir=str(tmp / "results"), retry_base_seconds=0)
    app = LRO(settings=settings)
    app.operation("bench.loop", max_attempts=1)(handler)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def run_jobs(app: LRO, kind: str, items: int, jobs: int) -> tuple[float, int]:
    """Wall time until every job ended (partials included), and the store writes."""
    worker = app.worker(max(jobs, 1))
    await worker.start()
    try:
        executor: Executor | None = worker._executor  # the bench reads the writers' counts
        assert executor is not None and executor.checkpoints and executor.partials
        before = executor.checkpoints.writes + executor.partials.writes
        start = time.perf_counter()
        submitted = [
            await app.submit("bench.loop", {"items": items, "kind": kind}) for _ in range(jobs)
        ]
        for job in submitted:
            await wait_done(app, job.id)
        seconds = time.perf_counter() - start
        writes = executor.checkpoints.writes + executor.partials.writes - before
    finally:
        await worker.stop(5)
    return seconds, writes


async def wait_done(app: LRO, job_id: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    with app.hub.job_waiter(job_id) as waiter:
        while True:
            job = await app.store.get_job(job_id)
            assert job is not None
            if job.is_terminal:
                assert job.status is Status.COMPLETED, job
                return
            await waiter.wait(max(0.01, deadline - time.monotonic()))


async def measure(url: str, tmp: Path, items: int, jobs: int, label: str) -> list[Figure]:
    figures: list[Figure] = []
    async with app_on(url, tmp) as app:
        base1, _ = await run_jobs(app, "baseline", items, 1)
        baseN, _ = await run_jobs(app, "baseline", items // jobs, jobs)
        plan: list[tuple[str, str, int, int, float]] = [
            (f"{label}: checkpoint, 1 job", "checkpoint", items, 1, base1),
            (f"{label}: checkpoint, {jobs} jobs at once", "checkpoint", items // jobs, jobs, baseN),
            (f"{label}: checkpoint not awaited, 1 job", "plain checkpoint", items, 1, base1),
            (f"{label}: step, 1 job", "step", max(1, items // 10), 1, base1 / 10),
            (f"{label}: partial, 1 job", "partial", items, 1, base1),
        ]
        for name, kind, n, j, base in plan:
            seconds, writes = await run_jobs(app, kind, n, j)
            if kind == "step":
                writes = 2 * n * j  # start and finish: two fenced statements per step
            figures.append(Figure(name, n * j, seconds, base, writes))
    return figures


async def main_async(args: argparse.Namespace) -> None:
    runs: list[tuple[str, Callable[[Path], Awaitable[list[Figure]]]]] = []
    runs.append(
        (
            "sqlite",
            lambda tmp: measure(
                f"sqlite:///{tmp / 'lro.db'}", tmp, args.items, args.jobs, "SQLite"
            ),
        )
    )
    if args.pg:
        sys.path.insert(0, str(ROOT))
        from tests.support.postgres import fresh_database

        async def pg(tmp: Path) -> list[Figure]:
            async with fresh_database() as url:
                return await measure(url, tmp, args.items, args.jobs, "PostgreSQL")

        runs.append(("postgres", pg))
    if args.redis:
        sys.path.insert(0, str(ROOT))
        from tests.support.redis import fresh_database as fresh_redis

        async def rd(tmp: Path) -> list[Figure]:
            async with fresh_redis() as url:
                return await measure(url, tmp, args.items, args.jobs, "Redis")

        runs.append(("redis", rd))
    print(
        "| figure | calls | wall s | µs per call (over the bare loop) | store writes | per call |"
    )
    print("|---|---|---|---|---|---|")
    for _name, run in runs:
        with tempfile.TemporaryDirectory() as tmp:
            for figure in await run(Path(tmp)):
                print(figure.row(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--pg", action="store_true", help="also on a fresh test database")
    parser.add_argument("--redis", action="store_true", help="also on a fresh Redis database")
    args: Any = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
