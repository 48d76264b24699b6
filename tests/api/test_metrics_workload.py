"""GET /metrics after a known workload, on SQLite and PostgreSQL: every figure of the
limits, held-back jobs, schedules, batches, steps, partials and the worker registry has
the exact value the workload implies, read the way Prometheus reads it (its text parser).

The workload runs in phases so each figure is fixed when it is scraped: first a worker
runs jobs to completion (steps, a retry, partials, a batch, limited jobs); then, with no
worker, jobs are submitted and claimed through the store's own verbs, so what is held
back is decided by the test, not by a worker's timing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel
from tests.api.test_metrics import samples

from lro import LRO, JobContext, Settings
from lro.models import utcnow
from lro.store.base import ClaimParams, LimitedOperation, Schedule
from lro.testing import Harness, run


class Keyed(BaseModel):
    k: str


def make_app(tmp_path: Path) -> LRO:
    app = LRO(settings=Settings(result_dir=str(tmp_path / "results")))

    @app.operation(
        "render",
        concurrency=2,
        concurrency_key="k",
        key_concurrency=1,
        rate_limit=(4, 3600),
        max_queued=100,
    )
    async def render(ctx: JobContext, params: Keyed) -> None:
        pass

    @app.operation("sync", rate_limit=(1, 3600))
    async def sync(ctx: JobContext) -> None:
        pass

    @app.operation("long", max_attempts=2)
    async def long(ctx: JobContext) -> None:
        # Attempt 1: step a completes, step b fails (so the job is retried). Attempt 2:
        # a is replayed from the store, b completes, and three partials are emitted.
        await ctx.run_step("a", lambda: 1)
        first = ctx.attempt == 1

        def b() -> int:
            if first:
                raise RuntimeError("first attempt fails at b")
            return 2

        await ctx.run_step("b", b)
        for i in range(3):
            ctx.partial({"i": i})

    @app.operation("ping")
    async def ping(ctx: JobContext) -> None:
        pass

    return app


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    # Every scrape reads the store afresh: the figures change between this test's scrapes.
    monkeypatch.setattr("lro.metrics.STORE_CACHE_SECONDS", 0.0)
    app = make_app(tmp_path)
    if request.param == "sqlite":
        async with run(app, path=tmp_path) as t:
            yield t
        return
    from tests.support.postgres import fresh_database

    async with fresh_database() as url, run(app, path=tmp_path, settings={"store_url": url}) as t:
        yield t


async def scrape(t: Harness) -> Samples:
    answer = await t.client.get("/metrics")
    assert answer.status_code == 200
    return samples(answer.text)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def pick(found: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one metric, by their labels."""
    return {labels: v for (n, labels), v in found.items() if n == name}


def lab(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


async def test_a_known_workload_gives_exact_figures(harness: Harness) -> None:
    t = harness
    store = t.lro.store
    # -- phase 1: a worker runs everything to completion ---------------------------------
    for k in ("x", "y"):
        await t.submit("render", {"k": k})
    await t.submit("long")
    await t.lro.submit_batch([{"operation": "ping"}, {"operation": "ping"}])
    await t.run_until_idle()
    async with t.background_worker():
        during = await scrape(t)
    assert pick(during, "lro_workers_live") == {(): 1}

    # -- phase 2: no worker; jobs held back by each limit, claimed by the store's verbs ---
    for k in ("a", "a", "a", "b", "c"):
        await t.submit("render", {"k": k})
    for _ in range(3):
        await t.submit("sync")
    await t.lro.submit_batch([{"operation": "ping"}])
    workload = store.workload
    assert workload is not None
    specs = [
        LimitedOperation.declared(name, t.lro.operations[name].limits)
        for name in ("render", "sync")
    ]
    # render: 2 of 4 starts of its window were used in phase 1, its concurrency is 2:
    # two jobs start, of two different keys. sync: one start fills its window.
    claimed = await workload.claim_limited(ClaimParams("metrics-test", 10, 60, utcnow()), specs)
    assert sorted(j.operation for j in claimed) == ["render", "render", "sync"]
    now = utcnow()
    await _schedules(t, now)

    before = utcnow()
    found = await scrape(t)
    after = utcnow()

    assert pick(found, "lro_store_up") == {(): 1}
    assert pick(found, "lro_workers_live") == {(): 0}  # the worker stopped: its row is gone
    assert pick(found, "lro_operation_limit") == {
        lab(operation="render", limit="concurrency"): 2,
        lab(operation="render", limit="key_concurrency"): 1,
        lab(operation="render", limit="rate_limit"): 4,
        lab(operation="render", limit="rate_period_seconds"): 3600,
        lab(operation="render", limit="max_queued"): 100,
        lab(operation="sync", limit="rate_limit"): 1,
        lab(operation="sync", limit="rate_period_seconds"): 3600,
    }
    assert pick(found, "lro_operation_slots_in_use") == {
        lab(operation="render"): 2,
        lab(operation="sync"): 1,
    }
    # render: 3 due jobs left. Whichever two keys run, key a still has jobs behind its
    # one slot (2 held by the key) and the third key's job waits for concurrency (1).
    # sync: 2 due, its window full (2 held by the rate).
    assert pick(found, "lro_jobs_held_back") == {
        lab(operation="render", reason="key"): 2,
        lab(operation="render", reason="concurrency"): 1,
        lab(operation="render", reason="rate"): 0,
        lab(operation="sync", reason="key"): 0,
        lab(operation="sync", reason="concurrency"): 0,
        lab(operation="sync", reason="rate"): 2,
    }
    assert pick(found, "lro_batches") == {lab(state="open"): 1, lab(state="finished"): 1}
    assert pick(found, "lro_job_steps_total") == {
        lab(operation="long", outcome="completed"): 2,
        lab(operation="long", outcome="failed"): 1,
        lab(operation="long", outcome="replayed"): 1,
        # Every operation this process has seen has its series, at 0 until it counts.
        **{lab(operation=op, outcome=o): 0 for op in ("render", "sync", "ping") for o in STEPS},
    }
    assert pick(found, "lro_job_partials_total") == {
        lab(operation="long"): 3,
        lab(operation="render"): 0,
        lab(operation="sync"): 0,
        lab(operation="ping"): 0,
    }
    assert pick(found, "lro_jobs") == {
        lab(operation="render", status="completed"): 2,
        lab(operation="render", status="processing"): 2,
        lab(operation="render", status="queued"): 3,
        lab(operation="sync", status="processing"): 1,
        lab(operation="sync", status="queued"): 2,
        lab(operation="long", status="completed"): 1,
        lab(operation="ping", status="completed"): 2,
        lab(operation="ping", status="queued"): 1,
    }
    attempts = pick(found, "lro_job_attempts_total")
    assert {k: v for k, v in attempts.items() if v} == {
        lab(operation="render", outcome="completed"): 2,
        lab(operation="long", outcome="retried"): 1,
        lab(operation="long", outcome="completed"): 1,
        lab(operation="ping", outcome="completed"): 2,
    }
    # The overdue schedule is late by the time from its due time to the scrape; the one
    # not yet due by nothing; the paused one is not reported.
    lag = pick(found, "lro_schedule_lag_seconds")
    assert set(lag) == {lab(owner="alice", schedule="late"), lab(owner="alice", schedule="soon")}
    assert lag[lab(owner="alice", schedule="soon")] == 0
    late = lag[lab(owner="alice", schedule="late")]
    due = now - timedelta(seconds=600)
    assert (before - due).total_seconds() <= late <= (after - due).total_seconds()


STEPS = ("completed", "failed", "replayed")


async def _schedules(t: Harness, now: object) -> None:

    assert isinstance(now, datetime)
    schedules = t.lro.store.schedules
    assert schedules is not None
    for schedule_id, offset, paused in (
        ("late", -600, False),
        ("soon", 600, False),
        ("off", -600, True),
    ):
        stored = await schedules.put_schedule(
            Schedule(
                id=schedule_id,
                owner="alice",
                operation="ping",
                params=None,
                cron=None,
                interval_seconds=3600.0,
                timezone="UTC",
                overlap="allow",
                paused=paused,
                tags=(),
                callback_url=None,
                next_run_at=now + timedelta(seconds=offset),
                created_at=now,
                updated_at=now,
            ),
            create=True,
        )
        assert stored is not None


@pytest.mark.redis
async def test_a_store_without_the_parts_reports_none_of_their_families(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis has no workload, batches or schedules part: their families are absent
    (not zeros, which would read as "nothing held back"); its worker registry is there."""
    from tests.support.redis import fresh_database as fresh_redis

    monkeypatch.setattr("lro.metrics.STORE_CACHE_SECONDS", 0.0)
    app = LRO(settings=Settings(result_dir=str(tmp_path / "results")))

    @app.operation("ping")
    async def ping(ctx: JobContext) -> None:
        pass

    async with fresh_redis() as url, run(app, path=tmp_path, settings={"store_url": url}) as t:
        await t.submit("ping")
        await t.run_until_idle()
        async with t.background_worker():
            during = await scrape(t)
        found = await scrape(t)
    assert pick(during, "lro_workers_live") == {(): 1}
    assert pick(found, "lro_workers_live") == {(): 0}
    assert pick(found, "lro_jobs") == {lab(operation="ping", status="completed"): 1}
    names = {name for name, _ in found}
    for absent in (
        "lro_operation_slots_in_use",
        "lro_jobs_held_back",
        "lro_schedule_lag_seconds",
        "lro_batches",
    ):
        assert absent not in names
