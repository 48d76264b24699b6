"""What a handler reports may hold U+0000 (issue 13: on PostgreSQL a NUL in step text, a
JSON result or a PermanentError detail failed every write, re-ran the job until its
attempts ran out, and ended it `worker_lost`). Now, on both backends, step text and error
details keep their meaning with each NUL replaced by U+FFFD, a permanent error is not
retried, and a JSON result holding a NUL is kept faithfully as a result.json file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.worker.helpers import running_worker, wait_job
from tests.worker.test_last_step import BACKENDS, app_on

from lro import JobContext, PermanentError, Status
from lro.results.base import ResultRedirect


@pytest.mark.parametrize("kind", BACKENDS)
async def test_nul_in_a_handlers_output_is_stored_or_replaced(kind: str, tmp_path: Path) -> None:
    async with app_on(kind, tmp_path) as app:

        @app.operation("stepper", max_attempts=3)
        async def stepper(ctx: JobContext) -> dict[str, str]:
            await ctx.progress(50, "half\x00way")
            return {"done": "yes"}

        @app.operation("nul_result", max_attempts=3)
        async def nul_result(ctx: JobContext) -> dict[str, str]:
            return {"raw": "a\x00b"}

        @app.operation("nul_error", max_attempts=3)
        async def nul_error(ctx: JobContext) -> None:
            raise PermanentError("bad\x00input", code="bad_input")

        await app.start()
        jobs = [await app.submit(name) for name in ("stepper", "nul_result", "nul_error")]
        async with running_worker(app, 3):
            step, result, error = [await wait_job(app, job.id, timeout=30) for job in jobs]

        assert (step.status, step.attempt, step.step) == (Status.COMPLETED, 1, "half\ufffdway")

        assert (result.status, result.attempt) == (Status.COMPLETED, 1)
        assert result.result is None and result.result_ref is not None
        assert result.result_ref.content_type == "application/json"
        body = await app.result_store.open(result.id, result.result_ref)
        assert not isinstance(body, ResultRedirect)
        data = b"".join([c async for c in body.chunks(0, result.result_ref.size)])
        assert json.loads(data) == {"raw": "a\x00b"}

        assert (error.status, error.attempt) == (Status.FAILED, 1)
        assert error.error is not None
        assert (error.error.code, error.error.detail) == ("bad_input", "bad\ufffdinput")
