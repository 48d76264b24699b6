"""The application the reliability scenarios serve: `lro serve app_rel:lro`, `lro worker
app_rel:lro`.

Every handler records what it does in the run log named by `LRO_TEST_RUNLOG`, one line per
event:

    <event> <job_id> <attempt> <pid> <monotonic seconds>

with event `start` (the handler began) or `end` (it returned; the line is written just
before the `return`, so `end` without a completion is the commit window). Each line is one
`write` to a file opened with O_APPEND, which the kernel appends atomically: many worker
processes share the file, and a SIGKILLed worker leaves only whole lines. The time is
`time.monotonic()`, which on Linux is one clock for every process of the machine, so runs
of different processes can be compared as intervals (and a clock-skew shim that moves the
wall clock does not move it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from pydantic import BaseModel, Field

from lro import LRO, JobContext, PermanentError

RUNLOG_ENV = "LRO_TEST_RUNLOG"

lro = LRO()

_fd: list[int] = []


def record(event: str, ctx: JobContext) -> None:
    path = os.environ.get(RUNLOG_ENV)
    if not path:
        return
    if not _fd:
        _fd.append(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    line = f"{event} {ctx.job_id} {ctx.attempt} {os.getpid()} {time.monotonic():.6f}\n"
    os.write(_fd[0], line.encode())


class WorkParams(BaseModel):
    ms: float = Field(0, ge=0, le=600_000)
    """How long the handler sleeps (asyncio) before it returns."""
    gate: str | None = None
    """A path: the handler returns once `<gate>` exists (or `<gate>.<attempt>` when
    `per_attempt`), checked every 20 ms, after `ms`; at most `max_seconds`."""
    per_attempt: bool = False
    progress: bool = False
    """Report progress on every check of the gate (a stream of writes to fence)."""
    max_seconds: float = Field(120, gt=0, le=3600)
    tag: str = ""
    """Free text kept in the params: scenarios put an idempotency key or a label here."""
    pad: str = ""
    """Bulk, for scenarios that fill a disk."""


def result_of(ctx: JobContext) -> dict[str, object]:
    """What every handler returns: who ran it, which attempt, and a marker unique to the
    job that a test can look for in a completion write on the wire."""
    return {"pid": os.getpid(), "attempt": ctx.attempt, "marker": f"result-of-{ctx.job_id}"}


async def _work(ctx: JobContext, params: WorkParams) -> dict[str, object]:
    record("start", ctx)
    if params.ms:
        await asyncio.sleep(params.ms / 1000)
    if params.gate is not None:
        gate = Path(f"{params.gate}.{ctx.attempt}" if params.per_attempt else params.gate)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + params.max_seconds
        checks = 0
        while not gate.exists() and loop.time() < deadline:  # noqa: ASYNC240
            if params.progress:
                checks += 1
                await ctx.progress(min(99, checks / 50), f"waiting, check {checks}")
            await asyncio.sleep(0.02)
    record("end", ctx)
    return result_of(ctx)


@lro.operation("rel.work", route="/work", estimated_duration=1, max_attempts=3)
async def work(ctx: JobContext, params: WorkParams) -> dict[str, object]:
    """The scenarios' ordinary job: sleeps and/or waits for a gate file, then returns."""
    return await _work(ctx, params)


@lro.operation("rel.load", route="/load", estimated_duration=1, max_attempts=20)
async def load(ctx: JobContext, params: WorkParams) -> dict[str, object]:
    """The same, for load with faults: workers are killed every few seconds, so one job
    may be cut short more than once; 20 attempts keep that from failing it."""
    return await _work(ctx, params)


@lro.operation("rel.suicide", route="/suicide", estimated_duration=1, max_attempts=3)
async def suicide(ctx: JobContext) -> None:
    """Kills its own worker process (SIGKILL) on every attempt: the job Celery re-ran in a
    loop. It must end `failed` with `worker_lost` after its three attempts."""
    record("start", ctx)
    os.kill(os.getpid(), signal.SIGKILL)


class SpinParams(BaseModel):
    seconds: float = Field(gt=0, le=600)


@lro.operation("rel.spin", route="/spin", estimated_duration=30, max_attempts=3)
def spin(ctx: JobContext, params: SpinParams) -> dict[str, object]:
    """A healthy sync job that keeps a CPU busy (holding the GIL most of the time) for
    many leases, reporting progress: the job Oban rescued every night."""
    record("start", ctx)
    began = time.monotonic()
    x = 0
    while (elapsed := time.monotonic() - began) < params.seconds:
        for i in range(20_000):
            x ^= i * i
        ctx.progress(min(99.0, 100 * elapsed / params.seconds), "spinning")
    record("end", ctx)
    return result_of(ctx)


class NulParams(BaseModel):
    where: str = Field(pattern="^(result|step|error)$")


@lro.operation("rel.nul", route="/nul", estimated_duration=1, max_attempts=3)
async def nul(ctx: JobContext, params: NulParams) -> dict[str, object]:
    """Puts a NUL character (U+0000) where the handler's output goes: the result, the
    step text, or a permanent error's detail. Valid output every backend must store
    faithfully or refuse once, not retry until the attempts are used up."""
    record("start", ctx)
    if params.where == "step":
        await ctx.progress(50, "half\x00way")
    if params.where == "error":
        raise PermanentError("bad\x00input", code="nul_detail")
    record("end", ctx)
    return {"text": "a\x00b" if params.where == "result" else "ok"}
