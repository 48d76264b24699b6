"""One attempt end to end on a real SQLite store: results, failures, retries, timeouts."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path

from pydantic import BaseModel
from tests.worker.helpers import running_worker, wait_job

from lro import LRO, File, JobContext, JobError, PermanentError, Settings, Status
from lro.errors import JobCancelled
from lro.worker import Worker


class AddParams(BaseModel):
    a: int
    b: int


async def test_async_handler_completes_with_progress_and_inline_result(lro: LRO) -> None:
    proceed = asyncio.Event()

    @lro.operation("math.add")
    async def add(ctx: JobContext, params: AddParams) -> dict[str, int]:
        await ctx.progress(40, "adding")
        await proceed.wait()
        return {"sum": params.a + params.b}

    job = await lro.submit("math.add", {"a": 2, "b": 3})
    async with running_worker(lro) as worker:
        seen = await wait_job(lro, job.id, lambda j: j.progress_pct == 40)
        assert (seen.status, seen.step, seen.attempt) == (Status.PROCESSING, "adding", 1)
        proceed.set()
        done = await wait_job(lro, job.id)
        await worker.wait_for(lambda s: s.completed == 1, timeout=5)
    assert done.status is Status.COMPLETED
    assert done.result == {"sum": 5}
    assert done.progress_pct == 100
    assert done.result_ref is None
    kinds = [e.kind for e in await lro.store.events_after(job.id, 0)]
    assert kinds == ["status", "status", "progress", "completed"]


async def test_sync_handler_runs_in_the_worker_thread_pool(lro: LRO) -> None:
    threads: list[str] = []

    @lro.operation("sync.op")
    def op(ctx: JobContext) -> str:
        threads.append(threading.current_thread().name)
        ctx.progress(50, "half way")
        return "done"

    job = await lro.submit("sync.op")
    async with running_worker(lro):
        done = await wait_job(lro, job.id)
    assert done.status is Status.COMPLETED
    assert done.result == "done"
    assert threads and threads[0].startswith("lro-job")


async def test_retryable_failures_are_retried_until_success(lro: LRO) -> None:
    @lro.operation("flaky", max_attempts=3)
    async def flaky(ctx: JobContext) -> int:
        if ctx.attempt < 3:
            raise RuntimeError(f"boom {ctx.attempt}")
        return ctx.attempt

    job = await lro.submit("flaky")
    async with running_worker(lro) as worker:
        done = await wait_job(lro, job.id)
        await worker.wait_for(lambda s: s.completed == 1, timeout=5)
    assert (done.status, done.result, done.attempt, done.error) == (Status.COMPLETED, 3, 3, None)
    assert worker.stats.retried == 2


async def test_permanent_error_fails_at_once_with_its_own_error(lro: LRO) -> None:
    @lro.operation("strict", max_attempts=5)
    async def strict(ctx: JobContext) -> None:
        raise PermanentError("Column 'x' does not exist", code="bad_column", title="Bad query")

    job = await lro.submit("strict")
    async with running_worker(lro) as worker:
        done = await wait_job(lro, job.id)
    assert done.status is Status.FAILED
    assert done.attempt == 1
    assert done.error is not None
    assert done.error.code == "bad_column"
    assert done.error.title == "Bad query"
    assert done.error.detail == "Column 'x' does not exist"
    assert done.error.retryable is False
    assert done.error.attempts == 1
    assert done.error.type.endswith("/bad-column")
    assert (worker.stats.failed, worker.stats.retried) == (1, 0)


async def test_final_failure_keeps_the_progress_and_step_it_stopped_at(
    tmp_path: Path, settings: Settings
) -> None:
    # A flush interval far longer than the test: the handler's last progress is still
    # unwritten when it fails, and must be written before the failure, not dropped.
    slow_flush = settings.model_copy(update={"progress_flush_seconds": 3600})
    lro = LRO(store=f"sqlite:///{tmp_path}/slow.db", settings=slow_flush)

    @lro.operation("stops.half.way")
    async def half(ctx: JobContext) -> None:
        for pct in range(0, 51, 10):
            await ctx.progress(pct, f"step at {pct}%")
        raise PermanentError("stopped at 50%", code="stopped")

    try:
        job = await lro.submit("stops.half.way")
        async with running_worker(lro):
            done = await wait_job(lro, job.id)
    finally:
        await lro.stop()
    assert done.status is Status.FAILED
    assert (done.progress_pct, done.step) == (50, "step at 50%")


async def test_completed_job_ends_on_its_last_reported_step(
    tmp_path: Path, settings: Settings
) -> None:
    slow_flush = settings.model_copy(update={"progress_flush_seconds": 3600})
    lro = LRO(store=f"sqlite:///{tmp_path}/slow.db", settings=slow_flush)

    @lro.operation("says.done")
    async def says_done(ctx: JobContext) -> None:
        await ctx.progress(50, "working")
        await ctx.progress(100, "done")

    try:
        job = await lro.submit("says.done")
        async with running_worker(lro):
            done = await wait_job(lro, job.id)
    finally:
        await lro.stop()
    assert (done.status, done.progress_pct, done.step) == (Status.COMPLETED, 100, "done")


async def test_job_error_retryable_false_is_not_retried(lro: LRO) -> None:
    @lro.operation("nope", max_attempts=3)
    async def nope(ctx: JobContext) -> None:
        raise JobError("quota used up", code="quota", retryable=False)

    job = await lro.submit("nope")
    async with running_worker(lro):
        done = await wait_job(lro, job.id)
    assert (done.status, done.attempt) == (Status.FAILED, 1)
    assert done.error is not None and done.error.code == "quota"


async def test_exhausted_retries_store_the_last_error(lro: LRO) -> None:
    @lro.operation("down", max_attempts=3)
    async def down(ctx: JobContext) -> None:
        raise JobError(f"upstream down on attempt {ctx.attempt}", code="upstream_down")

    job = await lro.submit("down")
    async with running_worker(lro) as worker:
        done = await wait_job(lro, job.id)
    assert (done.status, done.attempt) == (Status.FAILED, 3)
    assert done.error is not None
    assert (done.error.code, done.error.attempts, done.error.retryable) == (
        "upstream_down",
        3,
        True,
    )
    assert done.error.detail == "upstream down on attempt 3"
    assert (worker.stats.retried, worker.stats.failed) == (2, 1)


async def test_unexpected_exception_becomes_handler_error_without_traceback(lro: LRO) -> None:
    @lro.operation("buggy", max_attempts=1)
    def buggy(ctx: JobContext) -> None:
        raise KeyError("x" * 5000)

    job = await lro.submit("buggy")
    async with running_worker(lro):
        done = await wait_job(lro, job.id)
    error = done.error
    assert done.status is Status.FAILED and error is not None
    assert error.code == "handler_error"
    assert "KeyError" in error.detail
    assert "Traceback" not in error.detail
    assert len(error.detail) < 700
    assert (error.retryable, error.attempts) == (True, 1)


async def test_async_timeout_fails_the_attempt_with_code_timeout(lro: LRO) -> None:
    @lro.operation("slow", max_attempts=1, timeout=0.2)
    async def slow(ctx: JobContext) -> None:
        await asyncio.Event().wait()

    job = await lro.submit("slow")
    async with running_worker(lro):
        done = await wait_job(lro, job.id)
    assert done.status is Status.FAILED
    assert done.error is not None and done.error.code == "timeout"
    assert "0.2 s" in done.error.detail


async def test_sync_timeout_sets_ctx_cancelled_and_frees_the_slot_when_the_thread_ends(
    lro: LRO,
) -> None:
    saw_cancel = threading.Event()

    @lro.operation("slow.sync", max_attempts=1, timeout=0.2)
    def slow(ctx: JobContext) -> None:
        deadline = time.monotonic() + 30
        while not ctx.cancelled and time.monotonic() < deadline:
            time.sleep(0.005)
        if ctx.cancelled:
            saw_cancel.set()

    @lro.operation("quick")
    def quick(ctx: JobContext) -> str:
        return "ok"

    job = await lro.submit("slow.sync")
    async with running_worker(lro, concurrency=1) as worker:
        done = await wait_job(lro, job.id)
        assert done.error is not None and done.error.code == "timeout"
        # The only slot is held by the thread until it returns; then the next job runs.
        after = await lro.submit("quick")
        assert (await wait_job(lro, after.id)).result == "ok"
        await worker.wait_idle(5)
    assert saw_cancel.is_set()


async def test_file_result_lands_in_the_result_store(lro: LRO) -> None:
    @lro.operation("report")
    def report(ctx: JobContext) -> File:
        path = ctx.result_path("report.csv")
        path.write_text("a,b\n1,2\n")
        return File(path, content_type="text/csv")

    job = await lro.submit("report")
    async with running_worker(lro):
        done = await wait_job(lro, job.id)
    ref = done.result_ref
    assert done.status is Status.COMPLETED and ref is not None
    assert (ref.content_type, ref.filename, ref.size) == ("text/csv", "report.csv", 8)
    assert done.result is None
    assert lro.result_store.local_path(ref).read_text() == "a,b\n1,2\n"


async def test_bytes_result_is_stored_as_octet_stream(lro: LRO) -> None:
    @lro.operation("blob")
    async def blob(ctx: JobContext) -> bytes:
        return b"\x00\x01binary"

    job = await lro.submit("blob")
    async with running_worker(lro):
        done = await wait_job(lro, job.id)
    ref = done.result_ref
    assert ref is not None and ref.content_type == "application/octet-stream"
    assert lro.result_store.local_path(ref).read_bytes() == b"\x00\x01binary"


async def test_large_json_result_is_stored_as_a_file(lro: LRO) -> None:
    lro.settings = lro.settings.model_copy(update={"inline_result_bytes": 100})
    big = {"rows": ["x" * 50 for _ in range(10)]}

    @lro.operation("big")
    async def make_big(ctx: JobContext) -> dict[str, list[str]]:
        return big

    job = await lro.submit("big")
    async with running_worker(lro):
        done = await wait_job(lro, job.id)
    ref = done.result_ref
    assert done.status is Status.COMPLETED and done.result is None and ref is not None
    assert (ref.content_type, ref.filename) == ("application/json", "result.json")
    assert json.loads(lro.result_store.local_path(ref).read_text()) == big


async def test_unserializable_result_fails_without_retry(lro: LRO) -> None:
    @lro.operation("weird", max_attempts=3)
    async def weird(ctx: JobContext) -> object:
        return {"when": object()}

    job = await lro.submit("weird")
    async with running_worker(lro):
        done = await wait_job(lro, job.id)
    assert (done.status, done.attempt) == (Status.FAILED, 1)
    assert done.error is not None
    assert (done.error.code, done.error.retryable) == ("result_not_serializable", False)


async def test_handler_raising_job_cancelled_ends_cancelled(lro: LRO) -> None:
    @lro.operation("quitter")
    async def quitter(ctx: JobContext) -> None:
        raise JobCancelled("nothing left to do")

    job = await lro.submit("quitter")
    async with running_worker(lro) as worker:
        done = await wait_job(lro, job.id)
    assert done.status is Status.CANCELLED
    assert worker.stats.cancelled == 1


def test_worker_ids_are_fresh_and_not_just_the_host_name(lro: LRO) -> None:
    first, second = Worker(lro, 1), Worker(lro, 1)
    assert first.id != second.id
    assert first.id != socket.gethostname()
    assert len(first.id.rsplit(":", 1)[-1]) == 32
