"""Workload limits across real processes: two `lro worker` processes on one store (SQLite
file, PostgreSQL database), handlers recording when they ran. No instant may have had
more jobs of an operation running than its limit, nor two of one key; and keys did run
side by side where their limits allowed it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tests.e2e.app_limits import GLOBAL_LIMIT, RUNLOG_ENV, build
from tests.support.procs import ProcessGroup, base_env

from lro.models import TERMINAL, Status

HERE = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lro.db'}"
        return
    from tests.support.postgres import fresh_database

    async with fresh_database() as url:
        yield url


@pytest.fixture
def group(tmp_path: Path) -> Iterator[ProcessGroup]:
    pythonpath = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
    g = ProcessGroup(
        workdir=tmp_path,
        env=base_env(
            tmp_path, **{RUNLOG_ENV: str(tmp_path / "runlog.txt"), "PYTHONPATH": pythonpath}
        ),
    )
    try:
        yield g
    finally:
        g.close()


Run = tuple[str, str, float, float, int]


def most_at_once(runs: list[Run]) -> int:
    """The largest number of runs whose [start, end] intervals share an instant."""
    edges = sorted([(r[2], 1) for r in runs] + [(r[3], -1) for r in runs])
    level = peak = 0
    for _, step in edges:  # at equal times, an end (-1) sorts first: touching is not overlap
        level += step
        peak = max(peak, level)
    return peak


@pytest.mark.smoke
async def test_limits_hold_across_two_worker_processes(
    store_url: str, group: ProcessGroup, tmp_path: Path
) -> None:
    app = build(store_url)
    async with app.running():
        argv = ["worker", "tests.e2e.app_limits:lro", "--store", store_url, "--concurrency", "4"]
        workers = [group.start(name, argv) for name in ("w1", "w2")]
        deadline = asyncio.get_running_loop().time() + 90
        # Both claiming before any job exists, so both take part whatever their start-up.
        while not all("started:" in w.log() for w in workers):
            assert asyncio.get_running_loop().time() < deadline, group.logs()
            assert all(w.alive() for w in workers), group.logs()
            await asyncio.sleep(0.05)
        jobs = [await app.submit("limits.global", {}) for _ in range(10)]
        jobs += [await app.submit("limits.keyed", {"customer": c}) for c in "abc" for _ in range(3)]
        while True:
            states = [await app.store.get_job(j.id) for j in jobs]
            if all(s is not None and s.status in TERMINAL for s in states):
                break
            assert asyncio.get_running_loop().time() < deadline, group.logs()
            assert all(p.alive() for p in group.procs), group.logs()
            await asyncio.sleep(0.1)
    assert all(s is not None and s.status is Status.COMPLETED for s in states), group.logs()
    lines = (tmp_path / "runlog.txt").read_text().splitlines()
    runs: list[Run] = []
    for line in (x for x in lines if not x.startswith("start ")):
        kind, key, start, end, pid = line.split()
        runs.append((kind, key, float(start), float(end), int(pid)))
    assert len(runs) == len(jobs)
    global_runs = [r for r in runs if r[0] == "global"]
    assert most_at_once(global_runs) <= GLOBAL_LIMIT
    assert most_at_once(global_runs) >= 2  # the limit is a cap, not a queue of one
    keyed = [r for r in runs if r[0] == "keyed"]
    for key in "abc":
        assert most_at_once([r for r in keyed if r[1] == key]) == 1, key
    assert most_at_once(keyed) >= 2  # different keys ran side by side
    assert len({r[4] for r in runs}) == 2  # both processes took part


def test_a_worker_for_a_queue_no_operation_uses_exits_with_why(
    procs: ProcessGroup, tmp_path: Path
) -> None:
    done = procs.run(["worker", "--store", f"sqlite:///{tmp_path / 'q.db'}", "--queues", "gpu"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no operation of this app uses queue(s) gpu; its queues: default" in done.stderr


async def test_a_killed_workers_slot_comes_back_with_its_rescued_lease(
    store_url: str, group: ProcessGroup, tmp_path: Path
) -> None:
    """concurrency=1: the second job waits while the first holds the only slot; SIGKILL
    the worker running the first, and another worker's rescuer takes the lease back (the
    job fails `worker_lost`, its one attempt used), which frees the slot for the second."""
    app = build(store_url)
    runlog = tmp_path / "runlog.txt"
    async with app.running():
        stuck = await app.submit("limits.single", {"seconds": 600})
        waiting = await app.submit("limits.single", {"seconds": 0})
        argv = ["worker", "tests.e2e.app_limits:lro", "--store", store_url, "--concurrency", "4"]
        first = group.start("w1", argv)
        deadline = asyncio.get_running_loop().time() + 60
        while not (runlog.exists() and runlog.read_text().startswith("start single")):
            assert asyncio.get_running_loop().time() < deadline, group.logs()
            await asyncio.sleep(0.05)
        first.signal(signal.SIGKILL)
        first.wait_exit(timeout=10)
        killed_at = time.time()
        held = await app.store.get_job(waiting.id)
        assert held is not None and held.status is Status.QUEUED  # the slot was taken
        group.start("w2", argv)
        while True:
            done = await app.store.get_job(waiting.id)
            if done is not None and done.status in TERMINAL:
                break
            assert asyncio.get_running_loop().time() < deadline + 60, group.logs()
            await asyncio.sleep(0.1)
        lost = await app.store.get_job(stuck.id)
    assert done.status is Status.COMPLETED, group.logs()
    assert lost is not None and lost.status is Status.FAILED
    assert lost.error is not None and lost.error.code == "worker_lost"
    starts = [x.split() for x in runlog.read_text().splitlines() if x.startswith("start ")]
    assert len(starts) == 2
    assert float(starts[1][3]) > killed_at  # the second began only after the kill
