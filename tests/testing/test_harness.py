"""lro.testing.run: a user's LRO on a temporary store, its worker driven until idle, and
the jobs and events looked at afterwards; the LRO handed back as it was."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

import lro.testing
from lro import LRO, JobContext, JobError, PermanentError, Settings, Status
from lro.store import open_store
from lro.testing import NotIdle, run


class Order(BaseModel):
    items: int


def shop(home: Path) -> LRO:
    """A user's app: an LRO with settings of its own, operations registered on it."""
    settings = Settings(store_url=f"sqlite:///{home / 'app.db'}", result_dir=str(home / "app"))
    app = LRO(settings=settings)

    @app.operation("orders.pack", max_attempts=3)
    async def pack(ctx: JobContext, params: Order) -> dict[str, int]:
        await ctx.progress(50, "packing")
        return {"boxes": params.items // 2}

    @app.operation("orders.label")
    def label(ctx: JobContext) -> str:
        ctx.progress(30, "printing")
        return threading.current_thread().name

    @app.operation("orders.flaky", max_attempts=3)
    async def flaky(ctx: JobContext) -> int:
        if ctx.attempt == 1:
            raise JobError("the carrier is busy", code="carrier_busy")
        return ctx.attempt

    @app.operation("orders.reject", max_attempts=5)
    async def reject(ctx: JobContext) -> None:
        raise PermanentError("no such address", code="bad_address")

    @app.operation("orders.split")
    async def split(ctx: JobContext, params: Order) -> list[str]:
        # The module-level object, as a user's handler would call it.
        children = [await app.submit("orders.pack", {"items": 2}) for _ in range(params.items)]
        return [child.id for child in children]

    return app


async def test_nothing_runs_until_asked_then_the_queue_runs_dry(tmp_path: Path) -> None:
    async with run(shop(tmp_path), path=tmp_path) as t:
        job = await t.submit("orders.pack", {"items": 6})
        assert (await t.job(job.id)).status is Status.QUEUED
        await t.run_until_idle()
        done = await t.job(job.id)
    assert (done.status, done.result, done.attempt) == (Status.COMPLETED, {"boxes": 3}, 1)


async def test_sync_handlers_run_in_the_worker_threads(tmp_path: Path) -> None:
    async with run(shop(tmp_path), path=tmp_path) as t:
        job = await t.submit("orders.label")
        await t.run_until_idle()
        done = await t.job(job.id)
    assert done.status is Status.COMPLETED
    assert str(done.result).startswith("lro-job")


async def test_a_retry_runs_in_the_same_run_and_shows_in_the_events(tmp_path: Path) -> None:
    async with run(shop(tmp_path), path=tmp_path) as t:
        job = await t.submit("orders.flaky")
        await t.run_until_idle()
        done = await t.job(job.id)
        events = [(e.kind, e.status, e.attempt) for e in await t.events(job.id)]
    assert (done.status, done.result, done.attempt, done.error) == (
        Status.COMPLETED,
        2,
        2,
        None,
    )
    assert events == [
        ("status", Status.QUEUED, 0),
        ("status", Status.PROCESSING, 1),
        ("status", Status.QUEUED, 1),
        ("status", Status.PROCESSING, 2),
        ("completed", Status.COMPLETED, 2),
    ]


async def test_a_permanent_failure_is_not_retried(tmp_path: Path) -> None:
    async with run(shop(tmp_path), path=tmp_path) as t:
        job = await t.submit("orders.reject")
        await t.run_until_idle()
        done = await t.job(job.id)
    assert (done.status, done.attempt) == (Status.FAILED, 1)
    assert done.error is not None
    assert (done.error.code, done.error.retryable) == ("bad_address", False)


async def test_jobs_a_handler_submits_run_in_the_same_run(tmp_path: Path) -> None:
    async with run(shop(tmp_path), path=tmp_path) as t:
        parent = await t.submit("orders.split", {"items": 3})
        await t.run_until_idle()
        children = (await t.job(parent.id)).result
        assert len(children) == 3
        for child in children:
            assert (await t.job(child)).result == {"boxes": 1}
        assert len(await t.jobs(operation="orders.pack", status="completed")) == 3


async def test_progress_is_seen_while_the_job_runs_in_a_background_worker(
    tmp_path: Path,
) -> None:
    app = LRO()
    gate = asyncio.Event()

    @app.operation("gated")
    async def gated(ctx: JobContext) -> str:
        await ctx.progress(40, "waiting for the gate")
        await gate.wait()
        return "through"

    async with run(app, path=tmp_path) as t, t.background_worker():
        job = await t.submit("gated")
        seen = await t.wait_for_job(job.id, lambda j: j.progress_pct == 40)
        assert (seen.status, seen.step) == (Status.PROCESSING, "waiting for the gate")
        gate.set()
        done = await t.wait_for_job(job.id)
        progress = [
            (e.progress_pct, e.step) for e in await t.events(job.id) if e.kind == "progress"
        ]
    assert done.result == "through"
    assert progress == [(40, "waiting for the gate")]


async def test_a_queue_that_does_not_go_idle_is_reported_with_what_is_left(
    tmp_path: Path,
) -> None:
    app = LRO()
    gate = asyncio.Event()

    @app.operation("stuck")
    async def stuck(ctx: JobContext) -> None:
        await ctx.progress(10, "holding on")
        await gate.wait()

    async with run(app, path=tmp_path) as t, t.background_worker():
        job = await t.submit("stuck")
        waiting = await t.submit("stuck")
        await t.wait_for_job(job.id, lambda j: j.progress_pct == 10)
        with pytest.raises(NotIdle) as caught:
            await t.run_until_idle(timeout=0.05)
        gate.set()
        await t.run_until_idle()
    assert [j.id for j in caught.value.active] == [waiting.id, job.id]
    message = str(caught.value)
    assert "did not become idle within 0.05 s" in message
    assert f"job {job.id} (stuck) processing, attempt 1 of 3, at 10% 'holding on'" in message
    assert f"job {waiting.id} (stuck) queued, attempt 0 of 3, at 0%" in message


async def test_delayed_jobs_stay_queued_and_jobs_judges_expiry_at_a_given_now(
    tmp_path: Path,
) -> None:
    async with run(shop(tmp_path), path=tmp_path) as t:
        later = await t.submit("orders.pack", {"items": 2}, delay=3600)
        now = await t.submit("orders.pack", {"items": 2})
        await t.run_until_idle()
        assert (await t.job(later.id)).status is Status.QUEUED
        assert {j.id for j in await t.jobs()} == {later.id, now.id}
        finished = await t.job(now.id)
        assert finished.expires_at is not None
        after_retention = finished.expires_at + timedelta(seconds=1)
        assert [j.id for j in await t.jobs(now=after_retention)] == [later.id]


async def test_settings_given_to_run_apply_over_the_harness_own(tmp_path: Path) -> None:
    app = LRO()

    @app.operation("big")
    async def big(ctx: JobContext) -> dict[str, str]:
        return {"text": "x" * 100}

    async with run(app, path=tmp_path, settings={"inline_result_bytes": 10}) as t:
        assert t.settings.inline_result_bytes == 10
        assert t.settings.progress_flush_seconds == 0
        job = await t.submit("big")
        await t.run_until_idle()
        done = await t.job(job.id)
        assert done.result is None
        assert json.loads(t.result_path(done).read_text()) == {"text": "x" * 100}
        assert t.result_path(done).is_relative_to(t.path)


async def test_the_lro_is_handed_back_as_it_was_and_can_be_run_again(tmp_path: Path) -> None:
    app = shop(tmp_path)
    settings, result_store = app.settings, app.result_store
    for items in (1, 2):
        async with run(app, path=tmp_path) as t:
            assert t.path.parent == tmp_path
            assert (t.path / "lro.db").exists()
            assert t.settings.store_url == f"sqlite:///{t.path / 'lro.db'}"
            assert await t.jobs() == []  # a fresh database every time
            job = await t.submit("orders.pack", {"items": items})
            await t.run_until_idle()
            assert (await t.job(job.id)).status is Status.COMPLETED
        assert app.settings is settings and app.result_store is result_store
    assert not (tmp_path / "app.db").exists()
    assert not (tmp_path / "app").exists()


async def test_without_a_path_the_run_directory_is_removed(tmp_path: Path) -> None:
    async with run(shop(tmp_path)) as t:
        where = t.path
        assert (where / "lro.db").exists()
    assert not where.exists()


async def test_an_lro_with_a_store_of_its_own_is_refused(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'own.db'}")
    app = LRO(store=store)
    settings = app.settings
    with pytest.raises(RuntimeError, match="needs an LRO whose store it can choose"):
        async with run(app, path=tmp_path):
            pass
    assert app.settings is settings
    await store.open()  # neither opened nor closed by the harness: still usable
    await store.close()


def test_unknown_settings_and_bad_concurrency_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unknown lro settings: no_such_setting"):
        run(shop(tmp_path), settings={"no_such_setting": 1})
    with pytest.raises(ValueError, match="concurrency"):
        run(shop(tmp_path), concurrency=0)


async def test_asking_for_a_job_that_is_not_there_says_so(tmp_path: Path) -> None:
    async with run(shop(tmp_path), path=tmp_path) as t:
        with pytest.raises(LookupError, match="no job 'nope'"):
            await t.job("nope")


async def test_waiting_for_a_job_that_does_not_get_there_says_where_it_is(
    tmp_path: Path,
) -> None:
    async with run(shop(tmp_path), path=tmp_path) as t:
        job = await t.submit("orders.pack", {"items": 1})
        with pytest.raises(TimeoutError, match=f"job {job.id} did not get there within 0.01 s"):
            await t.wait_for_job(job.id, timeout=0.01)


def test_the_public_names_are_pinned() -> None:
    assert lro.testing.__all__ == sorted(lro.testing.__all__)
    assert lro.testing.__all__ == [
        "Harness",
        "NotIdle",
        "ReceivedWebhook",
        "WebhookReceiver",
        "run",
    ]
