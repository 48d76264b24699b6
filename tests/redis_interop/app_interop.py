"""The application the Redis interop tests serve: `lro serve app_interop:lro ...`.

Its operations are run either by lro's own worker (the handler below) or by a plain
BullMQ worker that knows nothing of lro (py_worker.py, node/worker.js) taking the same
jobs off the BullMQ queue `default`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from lro import LRO, JobContext
from lro.errors import JobCancelled

lro = LRO()


class AddParams(BaseModel):
    a: int
    b: int
    gate: str | None = None
    """A directory: the handler waits at 40% until the file `<job_id>.go` appears there."""
    fail: str | None = None
    """Fail with this message instead of answering (plain workers throw it)."""
    ms: int = Field(0, ge=0, le=60_000)
    """A plain worker sleeps this long at 40% (the Node worker killed mid-job)."""


class PartialsParams(AddParams):
    partials: list[Any] = []
    """Partial results, made after the gate: `ctx.partial(value)` here, and
    `job.updateProgress({"partial": value})` in the plain workers (HTTP-CONTRACT §19)."""


@lro.operation("interop.add", route="/add", estimated_duration=1, max_attempts=2)
async def add(ctx: JobContext, params: AddParams) -> dict[str, int]:
    await ctx.progress(40, "started")
    if params.gate is not None:
        go = Path(params.gate) / f"{ctx.job_id}.go"
        while not go.exists():
            if ctx.cancelled:
                raise JobCancelled(f"job {ctx.job_id} was cancelled")
            await asyncio.sleep(0.02)
    await ctx.progress(70, "adding")
    return {"sum": params.a + params.b}


@lro.operation("interop.partials", route="/add-partials", max_attempts=2)
async def add_partials(ctx: JobContext, params: PartialsParams) -> dict[str, int]:
    """`interop.add` that makes partial results (on the BullMQ queue `default` too)."""
    for value in params.partials:
        await ctx.partial(value)
    await ctx.progress(70, "adding")
    return {"sum": params.a + params.b}


@lro.operation("interop.media", route="/media", queue="media", max_attempts=2)
async def media(ctx: JobContext, params: AddParams) -> dict[str, int]:
    """The same sum on the BullMQ queue `media` (HTTP-CONTRACT §19: an operation's jobs go
    to the BullMQ queue its `queue` names)."""
    return {"sum": params.a + params.b}
