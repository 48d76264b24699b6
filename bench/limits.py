"""`make bench-limits`: what workload limits cost, side by side in one run. Not a test.

    .venv/bin/python bench/limits.py [--jobs 3000] [--concurrency 50] [--samples 40]
                                     [--backends sqlite,postgres] [--only plain,global,...]

One row per scenario and backend, each on a fresh database, one no-op operation:
  drain       N queued jobs drained by one worker (in this process) with C slots: jobs/s
              from the worker's start to the last completion committed
  claim       the store's claim alone, in a loop of claim (up to 100) / complete: the claim
              calls' time per job claimed (the cost the limits add where they live)
  pickup      one job at a time to an idle worker: submit -> handler start, p50 / p95
  peak        most handlers running at once during the drain (against the limit)
Scenarios: `plain` (no limits), `global` (concurrency=10), `keys` (1,000 keys at
key_concurrency=1), `fair` (fair=True over 1,000 tenants), `fair10k` (fair over 10,000
tenants, one job each), `rate` (rate_limit=(200, 1): starts/s achieved vs configured).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import BaseModel

from lro import LRO, JobContext, Settings, SubmitRequest
from lro.models import Completion, Lease, ListQuery, utcnow
from lro.store import ClaimParams
from lro.worker.claiming import limited_spec

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
OP = "bench.noop"


class Params(BaseModel):
    key: str = ""


@dataclass
class Scenario:
    name: str
    label: str
    limits: dict[str, Any]
    keys: int = 1
    jobs: int | None = None  # None: --jobs
    rate: tuple[int, float] | None = None


SCENARIOS = [
    Scenario("plain", "no limits", {}),
    Scenario("global", "concurrency=10", {"concurrency": 10}),
    Scenario(
        "keys",
        "1,000 keys, key_concurrency=1",
        {"concurrency_key": "key", "key_concurrency": 1},
        keys=1000,
    ),
    Scenario("fair", "fair, 1,000 tenants", {"concurrency_key": "key", "fair": True}, keys=1000),
    Scenario(
        "fair10k",
        "fair, 10,000 tenants",
        {"concurrency_key": "key", "fair": True},
        keys=10_000,
        jobs=10_000,
    ),
    Scenario("rate", "rate_limit=(200, 1 s)", {"rate_limit": (200, 1)}, rate=(200, 1.0)),
]


@dataclass
class Probe:
    """What the handler records: start times and how many run at once."""

    starts: list[float] = field(default_factory=list)
    running: int = 0
    peak: int = 0
    started: asyncio.Event = field(default_factory=asyncio.Event)


def build(url: str, scenario: Scenario, probe: Probe) -> LRO:
    app = LRO(settings=Settings(store_url=url, result_dir=tempfile.mkdtemp()))

    @app.operation(OP, max_attempts=1, **scenario.limits)
    async def noop(ctx: JobContext, params: Params) -> None:
        probe.starts.append(time.perf_counter())
        probe.running += 1
        probe.peak = max(probe.peak, probe.running)
        probe.started.set()
        await asyncio.sleep(0)
        probe.running -= 1

    return app


@asynccontextmanager
async def database(backend: str, workdir: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'{uuid.uuid4().hex}.db'}"
        return
    name = f"lro_bench_limits_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def requests(scenario: Scenario, count: int) -> list[SubmitRequest]:
    return [
        SubmitRequest(operation=OP, params={"key": f"k{i % scenario.keys}"}) for i in range(count)
    ]


async def fill(app: LRO, scenario: Scenario, count: int) -> None:
    reqs = requests(scenario, count)
    for i in range(0, count, 1000):
        await app.submit_many(reqs[i : i + 1000])


async def drain(
    backend: str, workdir: Path, scenario: Scenario, count: int, concurrency: int
) -> dict[str, float]:
    async with database(backend, workdir) as url:
        probe = Probe()
        app = build(url, scenario, probe)
        async with app.running():
            await fill(app, scenario, count)
            worker = app.worker(concurrency)
            t0 = time.perf_counter()
            await worker.start()
            if scenario.rate is not None:
                limit, period = scenario.rate
                await asyncio.sleep(period * 4.5)
                await worker.stop(0)
                return {**await rate_figures(app, limit, period), "peak": probe.peak}
            await worker.wait_for(lambda s: s.completed >= count, timeout=600)
            elapsed = time.perf_counter() - t0
            await worker.stop(0)
    return {"drain": count / elapsed, "peak": probe.peak}


async def rate_figures(app: LRO, limit: int, period: float) -> dict[str, float]:
    """Starts/s over three whole windows after the first, by the claims' own `now`
    (started_at), and the most starts seen in any window of `period` (must be <= limit)."""
    starts: list[float] = []
    cursor = None
    while True:
        page = await app.store.list_jobs(ListQuery(limit=500, cursor=cursor), utcnow())
        starts += [j.started_at.timestamp() for j in page.items if j.started_at is not None]
        cursor = page.next_cursor
        if cursor is None:
            break
    starts.sort()
    first = starts[0] + period
    whole = [t for t in starts if first <= t < first + 3 * period]
    most, lo = 0, 0
    for hi, t in enumerate(starts):
        while starts[lo] <= t - period:
            lo += 1
        most = max(most, hi - lo + 1)
    return {"rate": len(whole) / (3 * period), "configured": limit / period, "window_max": most}


async def claim_cost(backend: str, workdir: Path, scenario: Scenario, count: int) -> float:
    """ms of claim call per job claimed, completing every claimed job between claims."""
    async with database(backend, workdir) as url:
        app = build(url, scenario, Probe())
        async with app.running():
            await fill(app, scenario, count)
            store = app.store
            op = app.operations[OP]
            limited = op.limits.held_in_claim
            spec = limited_spec(op)
            now = utcnow()
            spent, claimed = 0.0, 0
            while claimed < count:
                params = ClaimParams("bench", 100, 30.0, now, [OP])
                t = time.perf_counter()
                if limited:
                    assert store.workload is not None
                    jobs = await store.workload.claim_limited(params, [spec])
                else:
                    jobs = await store.claim_jobs(params)
                spent += time.perf_counter() - t
                if not jobs:
                    if scenario.rate is None:
                        break
                    now += timedelta(seconds=scenario.rate[1])  # window full: move time on
                    continue
                claimed += len(jobs)
                await store.complete_jobs(
                    [Completion(Lease(j.id, j.lease_token or "")) for j in jobs], now, 3600
                )
    return spent * 1000 / max(claimed, 1)


async def pickup(backend: str, workdir: Path, scenario: Scenario, samples: int) -> list[float]:
    async with database(backend, workdir) as url:
        probe = Probe()
        app = build(url, scenario, probe)
        out: list[float] = []
        async with app.running():
            worker = app.worker(4)
            await worker.start()
            try:
                await worker.wait_idle(timeout=30)
                for i in range(samples):
                    probe.started.clear()
                    await asyncio.sleep(0.02)  # let the worker go idle (and park)
                    t = time.perf_counter()
                    await app.submit(OP, {"key": f"k{i % scenario.keys}"})
                    await asyncio.wait_for(probe.started.wait(), 30)
                    out.append((probe.starts[-1] - t) * 1000)
            finally:
                await worker.stop(0)
        return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    only = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for backend in args.backends.split(","):
            for sc in SCENARIOS:
                if only is not None and sc.name not in only:
                    continue
                count = sc.jobs or args.jobs
                row: dict[str, Any] = {"backend": backend, "scenario": sc.label, "jobs": count}
                row |= await drain(backend, workdir, sc, count, args.concurrency)
                row["claim_ms"] = await claim_cost(backend, workdir, sc, count)
                if sc.name not in ("fair10k", "rate"):
                    lat = await pickup(backend, workdir, sc, args.samples)
                    row["p50"], row["p95"] = pct(lat, 50), pct(lat, 95)
                rows.append(row)
                print(_line(row), file=sys.stderr, flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    drain = f"{row['drain']:8.0f}" if "drain" in row else "       -"
    if "rate" in row:
        drain = f"{row['rate']:5.0f}/{row['configured']:.0f}"
        drain = f"{drain:>8}"
        row["peak"] = f"{row['window_max']}/w"
    pick = f"{row['p50']:6.1f} {row['p95']:6.1f}" if "p50" in row else "     -      -"
    return (
        f"| {row['backend']:8} | {row['scenario']:30} | {row['jobs']:6} | {drain} | "
        f"{row['claim_ms']:8.3f} | {pick} | {row['peak']:4} |"
    )


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| backend  | scenario                       |   jobs |  drain/s | claim ms | "
        "p50 ms p95 ms | peak |\n"
        "|----------|--------------------------------|--------|----------|----------|"
        "---------------|------|"
    )
    return "\n".join([head, *(_line(r) for r in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = asyncio.run(main_async(args))
    print(table(rows))
    print(
        f"\ndrain/s: jobs per second (rate row: starts/s achieved/configured); claim ms: "
        f"claim time per job claimed; pickup p50/p95 submit -> start; peak: most running "
        f"at once (rate row: most starts in any 1 s window). One run of each, "
        f"{time.perf_counter() - started:.0f} s in all."
    )


if __name__ == "__main__":
    main()
