"""The application of the long-job end-to-end tests: `lro serve long_app:lro`,
`lro worker long_app:lro` (tests/e2e on PYTHONPATH).

Each handler appends what it really does to the file its params name, one line per
`write` on a file opened with O_APPEND (atomic across processes; a SIGKILLed worker
leaves only whole lines), so the test can tell what ran, in which attempt, how often.
On attempt 1 each handler stops at a point the test chose and waits for a gate file
that never comes: the test SIGKILLs the worker there.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from pydantic import BaseModel

from lro import LRO, JobContext

lro = LRO()


def record(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def wait_for_file(path: str) -> None:
    while not Path(path).exists():
        time.sleep(0.05)


class Import(BaseModel):
    log: str
    gate: str
    steps: int = 4
    stop_after: int = 2


@lro.operation("long.import", max_attempts=3)
def import_in_steps(ctx: JobContext, params: Import) -> dict[str, int]:
    """Four steps; attempt 1 is killed after `stop_after` of them."""
    total = 0

    def step(n: int) -> int:
        record(params.log, f"step {n} attempt {ctx.attempt}")
        return n * 10

    for n in range(1, params.steps + 1):
        if ctx.attempt == 1 and n == params.stop_after + 1:
            record(params.log, f"waiting attempt {ctx.attempt}")
            wait_for_file(params.gate)
        total += ctx.run_step_sync(f"step {n}", step, n)
    return {"total": total}


class Loop(BaseModel):
    log: str
    gate: str
    items: int = 100
    stop_at: int = 50
    every: int = 10


@lro.operation("long.loop", max_attempts=3)
async def loop_with_checkpoints(ctx: JobContext, params: Loop) -> dict[str, int]:
    """A checkpoint per item and a partial per `every` items; attempt 1 is killed at
    item `stop_at`, after its checkpoint."""
    start = (ctx.last_checkpoint or {}).get("next", 0)
    record(params.log, f"resume {start} attempt {ctx.attempt}")
    for i in range(start, params.items):
        record(params.log, f"item {i} attempt {ctx.attempt}")
        if (i + 1) % params.every == 0:
            ctx.partial({"through": i})
        await ctx.checkpoint({"next": i + 1})
        if ctx.attempt == 1 and i + 1 == params.stop_at:
            record(params.log, f"waiting attempt {ctx.attempt}")
            await asyncio.to_thread(wait_for_file, params.gate)
    return {"items": params.items}
