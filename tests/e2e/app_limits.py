"""The application of the workload-limit end-to-end tests: `lro worker
tests.e2e.app_limits:lro`. Each handler appends `<operation> <key> <start> <end> <pid>`
to the file named by LRO_TEST_RUNLOG when it ends, and `start <operation> <key> <start>
<pid>` when it begins (one O_APPEND write per line, so several worker processes share
the file and a SIGKILLed one leaves whole lines), so the test can replay which jobs ran
at once."""

from __future__ import annotations

import asyncio
import os
import time

from pydantic import BaseModel

from lro import LRO, JobContext

RUNLOG_ENV = "LRO_TEST_RUNLOG"
GLOBAL_LIMIT = 3
RUN_SECONDS = 0.4


class Work(BaseModel):
    customer: str = ""
    seconds: float = RUN_SECONDS


def build(store: str | None = None) -> LRO:
    app = LRO(store=store)

    @app.operation("limits.global", concurrency=GLOBAL_LIMIT, max_attempts=1)
    async def global_limited(ctx: JobContext, params: Work) -> None:
        await _run("global", params.customer)

    @app.operation("limits.keyed", concurrency_key="customer", key_concurrency=1, max_attempts=1)
    async def keyed(ctx: JobContext, params: Work) -> None:
        await _run("keyed", params.customer)

    @app.operation("limits.single", concurrency=1, max_attempts=1)
    async def single(ctx: JobContext, params: Work) -> None:
        await _run("single", params.customer, params.seconds)

    return app


async def _run(kind: str, key: str, seconds: float = RUN_SECONDS) -> None:
    start = time.time()
    path = os.environ[RUNLOG_ENV]
    _append(path, f"start {kind} {key or '-'} {start:.6f} {os.getpid()}\n")
    await asyncio.sleep(seconds)
    end = time.time()
    _append(path, f"{kind} {key or '-'} {start:.6f} {end:.6f} {os.getpid()}\n")


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


lro = build()
