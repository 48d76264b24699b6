"""Workload limits across real processes: two `lro worker` processes on one store (SQLite
file, PostgreSQL database), handlers recording when they ran. No instant may have had
more jobs of an operation running than its limit, nor two of one key; and keys did run
side by side where their limits allowed it."""

from __future__ import annotations

import asyncio
import os
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


async def test_limits_hold_across_two_worker_processes(
    store_url: str, group: ProcessGroup, tmp_path: Path
) -> None:
    app = build(store_url)
    async with app.running():
        jobs = [await app.submit("limits.global", {}) for _ in range(10)]
        jobs += [await app.submit("limits.keyed", {"customer": c}) for c in "abc" for _ in range(3)]
        for name in ("w1", "w2"):
            group.start(
                name,
                ["worker", "tests.e2e.app_limits:lro", "--store", store_url, "--concurrency", "4"],
            )
        deadline = asyncio.get_running_loop().time() + 90
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
    for line in lines:
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
