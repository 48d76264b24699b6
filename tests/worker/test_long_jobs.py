"""Long jobs in a real worker, on every backend (HTTP-CONTRACT §14): steps run once per
job across attempts, the checkpoint comes back on the next attempt, a step's result must
be JSON, step names are unique, partials are all stored before the terminal state, and a
zombie attempt's step write is refused (the handler is stopped with LeaseLost)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.worker.helpers import running_worker, wait_job

from lro import LRO, JobContext, JobError, Settings, Status
from lro.errors import LeaseLost, LongJobsUnsupported
from lro.models import Lease, utcnow
from lro.store import ClaimParams, RescueParams
from lro.store.steps import Steps

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


@contextlib.asynccontextmanager
async def app_on(kind: str, tmp_path: Path) -> AsyncIterator[LRO]:
    settings = Settings(
        result_dir=str(tmp_path / "results"), retry_base_seconds=0, progress_flush_seconds=0.02
    )
    if kind == "sqlite":
        app = LRO(store=f"sqlite:///{tmp_path / 'lro.db'}", settings=settings)
        try:
            yield app
        finally:
            await app.stop()
        return
    if kind == "redis":
        from tests.support.redis import fresh_database as fresh_redis

        fresh = fresh_redis()
    else:
        from tests.support.postgres import fresh_database

        fresh = fresh_database()
    async with fresh as url:
        app = LRO(store=url, settings=settings)
        try:
            yield app
        finally:
            await app.stop()


def steps_of(app: LRO) -> Steps:
    assert app.store.steps is not None
    return app.store.steps


@pytest.mark.parametrize("kind", BACKENDS)
async def test_async_steps_run_once_and_the_checkpoint_comes_back(
    kind: str, tmp_path: Path
) -> None:
    calls: Counter[str] = Counter()
    seen: list[Any] = []

    async with app_on(kind, tmp_path) as app:

        async def fetch(n: int) -> dict[str, int]:
            calls["fetch"] += 1
            return {"rows": n}

        def parse(rows: int) -> list[int]:  # a sync step function in an async handler
            calls["parse"] += 1
            return list(range(rows))

        @app.operation("long.async", max_attempts=3)
        async def handler(ctx: JobContext) -> dict[str, Any]:
            seen.append(ctx.last_checkpoint)
            fetched = await ctx.run_step("fetch", fetch, 3)
            parsed = await ctx.run_step("parse", parse, fetched["rows"])
            await ctx.checkpoint({"done": ctx.attempt})
            if ctx.attempt == 1:
                raise JobError("try again", code="flaky")
            calls["tail"] += 1
            return {"parsed": parsed, "fetched": fetched}

        await app.start()
        job = await app.submit("long.async")
        async with running_worker(app, 2):
            done = await wait_job(app, job.id, timeout=60)
        assert done.status is Status.COMPLETED, done
        assert done.attempt == 2
        assert done.result == {"parsed": [0, 1, 2], "fetched": {"rows": 3}}
        assert calls == Counter({"fetch": 1, "parse": 1, "tail": 1})
        assert seen == [None, {"done": 1}]
        listed = await steps_of(app).list_steps(job.id)
        assert [(s.name, s.status, s.attempt) for s in listed] == [
            ("fetch", "completed", 1),
            ("parse", "completed", 1),
        ]
        resume = await steps_of(app).resume(job.id)
        assert resume.checkpoint == {"done": 2}


@pytest.mark.parametrize("kind", BACKENDS)
async def test_sync_steps_and_checkpoints(kind: str, tmp_path: Path) -> None:
    calls: Counter[str] = Counter()
    resumed_from: list[Any] = []

    async with app_on(kind, tmp_path) as app:

        def square(x: int) -> int:
            calls[f"square {x}"] += 1
            return x * x

        @app.operation("long.sync", max_attempts=3)
        def handler(ctx: JobContext) -> int:
            start = (ctx.last_checkpoint or {}).get("next", 0)
            resumed_from.append(start)
            total = 0
            for i in range(start, 10):
                total += ctx.run_step_sync(f"square {i}", square, i)
                ctx.checkpoint_sync({"next": i + 1})
                if ctx.attempt == 1 and i == 4:
                    raise JobError("worker hiccup", code="flaky")
            return total

        await app.start()
        job = await app.submit("long.sync")
        async with running_worker(app, 2):
            done = await wait_job(app, job.id, timeout=60)
        assert done.status is Status.COMPLETED, done
        assert done.result == sum(i * i for i in range(5, 10))  # resumed at 5
        assert resumed_from == [0, 5]
        assert all(n == 1 for n in calls.values()) and len(calls) == 10


@pytest.mark.parametrize("kind", BACKENDS)
async def test_a_step_result_must_be_json_and_names_are_unique(kind: str, tmp_path: Path) -> None:
    async with app_on(kind, tmp_path) as app:

        @app.operation("long.bad", max_attempts=1)
        async def handler(ctx: JobContext) -> dict[str, str]:
            out = {}
            try:
                await ctx.run_step("bad", lambda: {1, 2, 3})
            except TypeError as exc:
                out["type_error"] = str(exc)
            await ctx.run_step("twice", lambda: 1)
            try:
                await ctx.run_step("twice", lambda: 2)
            except ValueError as exc:
                out["value_error"] = str(exc)
            try:
                await ctx.checkpoint(object())
            except TypeError as exc:
                out["checkpoint"] = str(exc)
            flaky = iter([RuntimeError("first try"), None])

            def once_flaky() -> str:
                error = next(flaky)
                if error is not None:
                    raise error
                return "second try"

            with contextlib.suppress(RuntimeError):
                await ctx.run_step("flaky", once_flaky)
            out["flaky"] = await ctx.run_step("flaky", once_flaky)  # a failed step may rerun
            try:
                ctx.partial({"text": "a\x00b"})
            except ValueError as exc:
                out["nul"] = str(exc)
            return out

        await app.start()
        job = await app.submit("long.bad")
        async with running_worker(app, 1):
            done = await wait_job(app, job.id, timeout=60)
        assert done.status is Status.COMPLETED, done
        assert "step 'bad'" in done.result["type_error"]
        assert "set" in done.result["type_error"]
        assert "'twice'" in done.result["value_error"] and "unique" in done.result["value_error"]
        assert "checkpoint" in done.result["checkpoint"]
        assert "U+0000" in done.result["nul"] and "/text" in done.result["nul"]
        listed = await steps_of(app).list_steps(job.id)
        assert done.result["flaky"] == "second try"
        assert [(s.name, s.status) for s in listed] == [
            ("bad", "failed"),
            ("twice", "completed"),
            ("flaky", "completed"),
        ]


@pytest.mark.parametrize("kind", BACKENDS)
async def test_partials_are_all_stored_before_the_terminal_state(kind: str, tmp_path: Path) -> None:
    async with app_on(kind, tmp_path) as app:

        @app.operation("long.partials", max_attempts=1)
        def sync_handler(ctx: JobContext) -> int:
            for i in range(50):
                ctx.partial({"row": i})
            return 50

        @app.operation("long.partials.async", max_attempts=1)
        async def async_handler(ctx: JobContext) -> int:
            for i in range(50):
                await ctx.partial(f"chunk {i}")
            return 50

        await app.start()
        a = await app.submit("long.partials")
        b = await app.submit("long.partials.async")
        async with running_worker(app, 2):
            await wait_job(app, a.id, timeout=60)
            await wait_job(app, b.id, timeout=60)
        # The terminal event comes after every partial's event, and all are stored.
        for job, expect in (
            (a, [{"row": i} for i in range(50)]),
            (b, [f"chunk {i}" for i in range(50)]),
        ):
            partials = await steps_of(app).partials(job.id, 0, 1000)
            assert [p.seq for p in partials] == list(range(1, 51))
            assert [p.data for p in partials] == expect
            events = await app.store.events_after(job.id, 0)
            assert events[-1].kind == "completed"
            partial_versions = [e.version for e in events if e.kind == "partial"]
            assert partial_versions == [p.version for p in partials]


@pytest.mark.parametrize("kind", BACKENDS)
async def test_a_zombie_attempt_cannot_record_a_step(kind: str, tmp_path: Path) -> None:
    """A sync handler's thread runs on after its lease was lost (a thread cannot be
    killed); its next step write is refused and it is stopped with LeaseLost."""
    gate, paused, stopped = threading.Event(), threading.Event(), threading.Event()
    outcomes: list[BaseException] = []

    async with app_on(kind, tmp_path) as app:

        @app.operation("long.zombie", max_attempts=3)
        def handler(ctx: JobContext) -> str:
            ctx.run_step_sync("first", lambda: ctx.attempt)
            paused.set()
            gate.wait(60)  # paused past its lease
            try:
                ctx.run_step_sync("second", lambda: "zombie")
            except LeaseLost as exc:
                outcomes.append(exc)
                raise
            finally:
                stopped.set()
            return "zombie finished"

        await app.start()
        job = await app.submit("long.zombie")
        steps = steps_of(app)
        async with running_worker(app, 2):
            assert await asyncio.to_thread(paused.wait, 60)  # after its first step
            # The lease runs out; the job is rescued and another worker (this test) takes
            # it, later than this worker's clock could.
            later = utcnow() + timedelta(seconds=app.settings.lease_seconds + 1)
            await app.store.rescue_expired(RescueParams(now=later, retention_seconds=3600))
            [successor] = await app.store.claim_jobs(
                ClaimParams(worker_id="other", limit=1, lease_seconds=60, now=later)
            )
            assert successor.attempt == 2 and successor.lease_token is not None
            gate.set()
            assert await asyncio.to_thread(stopped.wait, 60)
        assert len(outcomes) == 1 and "lost its lease" in str(outcomes[0])
        lease = Lease(job.id, successor.lease_token)
        assert (await steps.resume(job.id)).completed == {"first": 1}
        assert await steps.finish_step(lease, "second", "successor", later)
        listed = await steps.list_steps(job.id)
        assert [(s.name, s.status, s.attempt, s.result) for s in listed] == [
            ("first", "completed", 1, 1),
            ("second", "completed", 2, "successor"),
        ]


@pytest.mark.parametrize("kind", BACKENDS)
async def test_plain_checkpoints_coalesce_and_the_last_is_written_before_the_outcome(
    kind: str, tmp_path: Path
) -> None:
    resumed: list[Any] = []

    async with app_on(kind, tmp_path) as app:

        @app.operation("long.plain", max_attempts=2)
        async def handler(ctx: JobContext) -> int:
            resumed.append(ctx.last_checkpoint)
            if ctx.attempt == 1:
                for i in range(2000):
                    ctx.checkpoint({"next": i + 1})  # not awaited: coalesced
                raise JobError("again", code="flaky")
            return int(ctx.last_checkpoint["next"])

        @app.operation("long.plain.sync", max_attempts=2)
        def sync_handler(ctx: JobContext) -> int:
            resumed.append(ctx.last_checkpoint)
            if ctx.attempt == 1:
                for i in range(500):
                    ctx.checkpoint({"next": i + 1})  # from a thread: recorded, not waited for
                raise JobError("again", code="flaky")
            return int(ctx.last_checkpoint["next"])

        await app.start()
        a = await app.submit("long.plain")
        b = await app.submit("long.plain.sync")
        async with running_worker(app, 2):
            done_a = await wait_job(app, a.id, timeout=60)
            done_b = await wait_job(app, b.id, timeout=60)
        assert (done_a.status, done_a.result) == (Status.COMPLETED, 2000), done_a
        assert (done_b.status, done_b.result) == (Status.COMPLETED, 500), done_b
        assert resumed.count(None) == 2


async def test_without_the_capability_the_context_refuses_clearly(tmp_path: Path) -> None:
    """A store without long jobs (`steps is None`, a third-party store): the calls
    raise LongJobsUnsupported at the call site; `last_checkpoint` is None."""
    errors: list[str] = []
    async with app_on("sqlite", tmp_path) as app:

        @app.operation("long.unsupported", max_attempts=1)
        async def handler(ctx: JobContext) -> None:
            assert ctx.last_checkpoint is None
            for call in (
                lambda: ctx.run_step("s", lambda: 1),
                lambda: ctx.checkpoint(1),
                lambda: ctx.partial(1),
            ):
                try:
                    await call()
                except LongJobsUnsupported as exc:
                    errors.append(str(exc))

        app.store.steps = None  # type: ignore[misc]
        await app.start()
        job = await app.submit("long.unsupported")
        async with running_worker(app, 1):
            done = await wait_job(app, job.id, timeout=60)
    assert done.status is Status.COMPLETED, done
    assert len(errors) == 3 and all("SQLite or PostgreSQL" in e for e in errors)


@pytest.mark.parametrize("kind", BACKENDS)
async def test_sizes_are_bounded_by_the_settings(kind: str, tmp_path: Path) -> None:
    """LRO_MAX_PARTIALS_BYTES counts every attempt's partials; a checkpoint or a step
    result over its limit is a ValueError naming the setting, and nothing is stored."""
    errors: dict[str, str] = {}

    async with app_on(kind, tmp_path) as app:
        app.settings = app.settings.model_copy(
            update={
                "max_partials_bytes": 40,
                "max_checkpoint_bytes": 20,
                "max_step_result_bytes": 20,
            }
        )

        @app.operation("long.sizes", max_attempts=2)
        async def handler(ctx: JobContext) -> int:
            if ctx.attempt == 1:
                ctx.partial("x" * 20)  # 22 bytes of JSON
                raise JobError("again", code="flaky")
            for name, call in (
                ("partial", lambda: ctx.partial("y" * 20)),  # 22 + 22 > 40
                ("checkpoint", lambda: ctx.checkpoint("z" * 30)),
                ("step", lambda: ctx.run_step("big", lambda: "s" * 30)),
            ):
                try:
                    await call()
                except ValueError as exc:
                    errors[name] = str(exc)
            ctx.partial(1)
            return ctx.attempt

        await app.start()
        job = await app.submit("long.sizes")
        async with running_worker(app, 1):
            done = await wait_job(app, job.id, timeout=60)
        assert done.status is Status.COMPLETED, done
        assert "LRO_MAX_PARTIALS_BYTES" in errors["partial"]
        assert "LRO_MAX_CHECKPOINT_BYTES" in errors["checkpoint"]
        assert "LRO_MAX_STEP_RESULT_BYTES" in errors["step"]
        steps = steps_of(app)
        assert [p.data for p in await steps.partials(job.id, 0, 10)] == ["x" * 20, 1]
        assert not (await steps.resume(job.id)).found
        assert [(s.name, s.status) for s in await steps.list_steps(job.id)] == [("big", "failed")]
