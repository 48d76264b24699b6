"""A finished job carries the step text its handler reported last (issue: on PostgreSQL a
progress write in flight lost to the completion on another connection, was fenced away,
and 4 of 20 such jobs ended with step null). Run on both backends with the default
progress coalescing, a 4-slot worker, and sync handlers that report ten steps quickly,
and also for jobs that fail and are cancelled the same way."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import BaseModel
from tests.worker.helpers import running_worker, wait_job

from lro import LRO, JobContext, PermanentError, Settings, Status
from lro.errors import JobCancelled

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


class Steps(BaseModel):
    n: int
    end: str = "complete"


@contextlib.asynccontextmanager
async def app_on(kind: str, tmp_path: Path) -> AsyncIterator[LRO]:
    settings = Settings(result_dir=str(tmp_path / "results"), retry_base_seconds=0)
    if kind == "sqlite":
        app = LRO(store=f"sqlite:///{tmp_path / 'lro.db'}", settings=settings)
        try:
            yield app
        finally:
            await app.stop()
        return
    if kind == "redis":
        from tests.support.redis import fresh_url

        app = LRO(store=fresh_url(), settings=settings)
        try:
            yield app
        finally:
            await app.stop()
        return
    from tests.support.postgres import fresh_database

    async with fresh_database() as url:
        app = LRO(store=url, settings=settings)
        try:
            yield app
        finally:
            await app.stop()


def register(app: LRO) -> None:
    @app.operation("steps", max_attempts=1)
    def steps(ctx: JobContext, params: Steps) -> dict[str, int]:
        for i in range(1, 11):
            ctx.progress(i * 9, f"step {i} of job {params.n}")
        if params.end == "fail":
            raise PermanentError("failed after its last step", code="done_failing")
        if params.end == "cancel":
            raise JobCancelled("stopped after its last step")
        return {"n": params.n}


@pytest.mark.parametrize("kind", BACKENDS)
async def test_twenty_quick_sync_jobs_keep_their_last_step(kind: str, tmp_path: Path) -> None:
    async with app_on(kind, tmp_path) as app:
        register(app)
        await app.start()
        jobs = await app.submit_many([_req(n) for n in range(20)])
        async with running_worker(app, 4):
            done = [await wait_job(app, job.id, timeout=60) for job in jobs]
        for n, job in enumerate(done):
            assert (job.status, job.progress_pct) == (Status.COMPLETED, 100), job
            assert job.step == f"step 10 of job {n}", job


@pytest.mark.parametrize("kind", BACKENDS)
async def test_failed_and_cancelled_jobs_keep_their_last_step(kind: str, tmp_path: Path) -> None:
    async with app_on(kind, tmp_path) as app:
        register(app)
        await app.start()
        ends = ["fail", "cancel"] * 5
        jobs = await app.submit_many([_req(n, end) for n, end in enumerate(ends)])
        async with running_worker(app, 4):
            done = [await wait_job(app, job.id, timeout=60) for job in jobs]
        for n, job in enumerate(done):
            wanted = Status.FAILED if ends[n] == "fail" else Status.CANCELLED
            assert job.status is wanted, job
            assert job.step == f"step 10 of job {n}", job
            assert job.progress_pct == 90, job


def _req(n: int, end: str = "complete") -> object:
    from lro.submission import SubmitRequest

    return SubmitRequest(operation="steps", params={"n": n, "end": end})
