"""The app the SSE benchmark runs: operations that report progress, or partial results, often.

`lro serve sse_app:lro` / `lro worker sse_app:lro` (run from this directory) load it like
any user app. Each step is one `ctx.progress` call whose step text is `t=<time.time()>` of
that call, so a client receiving the event can tell how long the change took to reach it
(same machine, same clock). If `go` names a file, the job first waits (claimed, silent)
until that file exists, so the bench can open every stream before the load starts. It
runs until the file named by `stop` exists (checked at every step) or `max_seconds` have
passed, then completes, which ends its event streams. `bench.partials` does the same with
`ctx.partial({"t": time.time()})` at a fixed rate instead of progress steps.
"""

from __future__ import annotations

import asyncio
import os
import random
import time

from pydantic import BaseModel

from lro import LRO, JobContext

OPERATION = "bench.progress"
PARTIALS = "bench.partials"
STEP_PREFIX = "t="


class ProgressParams(BaseModel):
    interval: float = 0.5
    """Seconds between two progress calls."""
    go: str = ""
    """Path of a file to wait for before the first step (empty: start at once)."""
    stop: str = ""
    """Path of a file whose existence ends the job (checked before each step)."""
    max_seconds: float = 120.0
    """Hard upper bound on the job's run time, whatever happens to the bench."""


class PartialsParams(BaseModel):
    rate: float = 100.0
    """Partials per second, on a fixed schedule (a late one is made at once, not skipped)."""
    go: str = ""
    stop: str = ""
    max_seconds: float = 120.0


def exists(path: str) -> bool:
    """One stat() per step: microseconds, not worth a thread hop."""
    return bool(path) and os.path.exists(path)


async def wait_for_file(path: str, deadline: float) -> None:
    """Poll for a file another process creates (there is no event to wait on)."""
    while not exists(path) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)


def make_app(store: str | None = None) -> LRO:
    app = LRO(store)

    @app.operation(OPERATION, route="/progress", max_attempts=1, estimated_duration=30)
    async def progress(ctx: JobContext, params: ProgressParams) -> dict[str, int]:
        """Report progress every `interval` seconds until told to stop."""
        deadline = time.monotonic() + params.max_seconds
        if params.go:
            await wait_for_file(params.go, deadline)
        # Spread the jobs' steps over the interval, as independent jobs would be.
        await asyncio.sleep(params.interval * random.random())
        steps = 0
        while time.monotonic() < deadline and not exists(params.stop):
            steps += 1
            ctx.progress(min(99.0, steps * 0.1), f"{STEP_PREFIX}{time.time():.6f}")
            await asyncio.sleep(params.interval)
        return {"steps": steps}

    @app.operation(PARTIALS, route="/partials", max_attempts=1, estimated_duration=30)
    async def partials(ctx: JobContext, params: PartialsParams) -> dict[str, int]:
        """Make `rate` partials a second until told to stop; return how many were made,
        so the bench can tell whether every stream saw all of them."""
        deadline = time.monotonic() + params.max_seconds
        if params.go:
            await wait_for_file(params.go, deadline)
        made, start = 0, time.monotonic()
        while time.monotonic() < deadline and not exists(params.stop):
            made += 1
            ctx.partial({"t": time.time()})
            await asyncio.sleep(max(0.0, start + made / params.rate - time.monotonic()))
        return {"partials": made}

    return app


lro = make_app()
