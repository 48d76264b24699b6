"""The application the PostgreSQL end-to-end tests serve: `lro serve app_pg:lro ...`.

Every handler records what it does as one line in the run log named by `LRO_TEST_RUNLOG`:

    <event> <job_id> <attempt> <pid> <until>

with event `start` (the handler began), `end` (it returned) or `cancel` (it saw
`ctx.cancelled` and stopped); `until` is the wall-clock time (`time.time()`) a `start`
expects the handler to run until, 0 when unknown. Each line is one `write` to a file
opened with O_APPEND, which the kernel appends atomically, so many worker processes can
share the file and a SIGKILLed worker leaves only whole lines behind. The tests read it
to count executions: which process ran which job, how many times, which were cut short.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from pydantic import BaseModel, Field

from lro import LRO, JobContext
from lro.errors import JobCancelled

RUNLOG_ENV = "LRO_TEST_RUNLOG"

lro = LRO()

_fd: list[int] = []


def record(event: str, ctx: JobContext, until: float = 0.0) -> None:
    path = os.environ.get(RUNLOG_ENV)
    if not path:
        return
    if not _fd:
        _fd.append(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    line = f"{event} {ctx.job_id} {ctx.attempt} {os.getpid()} {until:.3f}\n"
    os.write(_fd[0], line.encode())


class SleepParams(BaseModel):
    ms: float = Field(10, ge=0, le=60_000)


@lro.operation("e2e.sleep", route="/sleep", estimated_duration=1)
async def sleep(ctx: JobContext, params: SleepParams) -> dict[str, int]:
    """Sleeps `ms` milliseconds: a job that keeps a worker slot busy for a while."""
    record("start", ctx, until=time.time() + params.ms / 1000)
    await asyncio.sleep(params.ms / 1000)
    record("end", ctx)
    return {"pid": os.getpid()}


class GateParams(BaseModel):
    gate: str
    """A path: the job completes once this file exists."""
    max_seconds: float = Field(30, gt=0, le=600)


@lro.operation("e2e.gate", route="/gate", estimated_duration=5, max_attempts=1)
async def gate(ctx: JobContext, params: GateParams) -> dict[str, int]:
    """Runs until the gate file appears (or `max_seconds`); stops cooperatively when
    cancelled, recording that it saw the cancel request."""
    record("start", ctx)
    path = Path(params.gate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + params.max_seconds
    # One stat() per 20 ms: cheaper than a thread hop, and it never blocks for long.
    while not path.exists() and loop.time() < deadline:  # noqa: ASYNC240
        if ctx.cancelled:
            record("cancel", ctx)
            raise JobCancelled(f"job {ctx.job_id} was cancelled")
        await asyncio.sleep(0.02)
    record("end", ctx)
    return {"pid": os.getpid()}


class StepsParams(BaseModel):
    n: int = Field(ge=0)


@lro.operation("e2e.steps", route="/steps", estimated_duration=1)
def steps(ctx: JobContext, params: StepsParams) -> dict[str, int]:
    """A sync handler that reports ten steps in quick succession and returns: its last
    progress write is still in flight when the completion is written."""
    for i in range(1, 11):
        ctx.progress(i * 9, f"step {i} of job {params.n}")
    return {"n": params.n}
