"""Flows benchmark (issue 17): a batch of 1,000 against 1,000 single submits, a fan-in of
1,000 parents into one child, and N schedules due at the same instant.

    .venv/bin/python bench/flows.py [--store URL] [--jobs 1000] [--schedules 10000]

In one process, on a fresh SQLite file unless `--store` names a PostgreSQL database (it
should be empty), with an embedded worker of 20 slots running no-op handlers. A
measurement, not a test: nothing is asserted. Prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from lro import LRO, JobContext, Settings
from lro.models import ListQuery, Status, utcnow
from lro.worker.scheduler import Scheduler


class Noop(BaseModel):
    i: int = 0


async def noop(ctx: JobContext, params: Noop) -> int:
    return params.i


def make(store: str, tmp: Path) -> LRO:
    lro = LRO(
        store,
        settings=Settings(result_dir=str(tmp / "results"), progress_flush_seconds=0.0),
    )
    lro.operation("noop")(noop)
    return lro


async def until(check: Any, timeout: float = 600) -> None:
    """Poll `check` every 5 ms: a benchmark's clock, where a listener would add its own
    latency to what is measured."""
    async with asyncio.timeout(timeout):
        for _ in itertools.count():
            if await check():
                return
            await asyncio.sleep(0.005)


async def unfinished(lro: LRO) -> int:
    counts = await lro.store.job_counts(None, utcnow())
    return sum(c.count for c in counts if c.status in (Status.QUEUED, Status.PROCESSING))


async def batch_vs_single(lro: LRO, n: int) -> list[tuple[str, str]]:
    items = [{"operation": "noop", "params": {"i": i}} for i in range(n)]
    t0 = time.perf_counter()
    made = await lro.submit_batch(items)
    submit_batch = time.perf_counter() - t0
    batches = lro.store.batches
    assert batches is not None

    async def batch_done() -> bool:
        b = await batches.get_batch(made.batch.id)
        return b is not None and b.unfinished == 0

    await until(batch_done)
    batch_total = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(n):
        await lro.submit("noop", {"i": i})
    submit_single = time.perf_counter() - t0

    async def all_done() -> bool:
        return await unfinished(lro) == 0

    await until(all_done)
    single_total = time.perf_counter() - t0
    return [
        (f"submit {n} as one batch", f"{submit_batch * 1000:.0f} ms"),
        (f"  until all {n} done", f"{batch_total:.2f} s"),
        (f"submit {n} one by one", f"{submit_single * 1000:.0f} ms"),
        (f"  until all {n} done", f"{single_total:.2f} s"),
    ]


async def fan_in(lro: LRO, n: int) -> list[tuple[str, str]]:
    """n parents in one batch, and the child as a single submit depending on all of them
    (a batch holds at most 1,000 jobs)."""
    parents_made = await lro.submit_batch(
        [{"operation": "noop", "params": {"i": i}} for i in range(n)]
    )
    child = await lro.submit("noop", {"i": -1}, depends_on=[j.id for j in parents_made.jobs])
    child_id = child.id

    async def child_started() -> bool:
        child = await lro.store.get_job(child_id)
        return child is not None and child.status is Status.COMPLETED

    await until(child_started)
    parents = [await lro.store.get_job(j.id) for j in parents_made.jobs]
    last_parent = max(p.finished_at for p in parents if p is not None and p.finished_at)
    ran = await lro.store.get_job(child_id)
    assert ran is not None and ran.started_at is not None
    gap = (ran.started_at - last_parent).total_seconds()
    return [(f"fan-in of {n}: last parent done -> child started", f"{gap * 1000:.1f} ms")]


async def schedules(lro: LRO, n: int) -> list[tuple[str, str]]:
    part = lro.store.schedules
    assert part is not None
    lro.schedule("template", "noop", interval_seconds=3600, overlap="allow")
    await lro._declare_schedules()
    template = await part.get_schedule("", "template")
    assert template is not None
    await part.delete_schedule("", "template")
    due = utcnow() + timedelta(seconds=5 + n / 2000)
    for i in range(n):
        await part.put_schedule(
            dataclasses.replace(template, id=f"s{i}", next_run_at=due), create=True
        )
    scheduler = Scheduler(lro)
    await scheduler.start()
    try:

        async def fired() -> bool:
            return scheduler.fired >= n

        await until(fired)
    finally:
        await scheduler.stop()
    lags: list[float] = []
    cursor = None
    while True:
        page = await lro.store.list_jobs(
            ListQuery(owner=None, limit=200, cursor=cursor, created_after=due - timedelta(1)),
            utcnow(),
        )
        lags += [(j.created_at - due).total_seconds() for j in page.items if j.tags]
        cursor = page.next_cursor
        if cursor is None:
            break
    lags.sort()
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    return [
        (f"{n} schedules due at once: firing lag p50", f"{statistics.median(lags):.2f} s"),
        ("  p99", f"{p99:.2f} s"),
        ("  last", f"{lags[-1]:.2f} s"),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--schedules", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or f"sqlite:///{Path(tmp) / 'lro.db'}"
        lro = make(store, Path(tmp))
        await lro.start()
        worker = lro.worker(20)
        await worker.start()
        rows: list[tuple[str, str]] = []
        try:
            rows += await batch_vs_single(lro, args.jobs)
            rows += await fan_in(lro, args.jobs)
        finally:
            await worker.stop()
        try:
            rows += await schedules(lro, args.schedules)
        finally:
            await lro.stop()
    width = max(len(r[0]) for r in rows)
    print(f"store: {store.split('://')[0]}")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    asyncio.run(main())
