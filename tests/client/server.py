"""A real lro service for the client tests, in-process: a small app with quick operations
on SQLite in a temporary directory, served by uvicorn on a free loopback port from a
background thread, with an embedded worker.

Operations can be held at a *gate* (a threading.Event the test owns), so a test decides
when a job moves on instead of guessing with sleeps.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import BaseModel, Field

from lro import LRO, File, JobContext, PermanentError, Settings

_GATES: dict[str, threading.Event] = {}
GATE_TIMEOUT = 20.0


def new_gate() -> tuple[str, threading.Event]:
    """A fresh gate: pass its name as the job's `gate` param, `set()` it to let it go."""
    name = uuid.uuid4().hex
    _GATES[name] = threading.Event()
    return name, _GATES[name]


class CountParams(BaseModel):
    steps: int = Field(4, ge=1, le=100)
    pause: float = Field(0.01, ge=0, le=5)
    fail_at: int | None = None
    gate: str | None = None
    """Held after the first progress step until this gate opens."""


async def count(ctx: JobContext, params: CountParams) -> dict[str, int]:
    for i in range(1, params.steps + 1):
        if params.fail_at == i:
            raise PermanentError(
                f"step {i} failed because fail_at={i} was asked for",
                code="count_failed",
                title="Counting failed",
            )
        await ctx.progress(100 * i / (params.steps + 1), f"step {i}")
        if params.gate is not None and i == 1:
            await asyncio.to_thread(_GATES[params.gate].wait, GATE_TIMEOUT)
        await asyncio.sleep(params.pause)
    return {"counted": params.steps}


class BlobParams(BaseModel):
    size: int = Field(ge=0, le=10_000_000)


def blob_bytes(size: int) -> bytes:
    """Deterministic, without a short period, so a resume at the wrong offset shows."""
    return random.Random(size).randbytes(size)


async def blob(ctx: JobContext, params: BlobParams) -> File:
    path = ctx.result_path("blob.bin")
    path.write_bytes(blob_bytes(params.size))
    return File(path, content_type="application/octet-stream", filename="blob.bin")


async def linger(ctx: JobContext) -> None:
    """Runs until cancelled (or 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ctx.raise_if_cancelled()
        await asyncio.sleep(0.01)


async def tick(ctx: JobContext) -> None:
    """Reports progress every 50 ms until cancelled (or 30 s): an event stream that never
    goes quiet, the case where only an overall deadline can end a wait."""
    deadline = time.monotonic() + 30
    ticks = 0
    while time.monotonic() < deadline:
        ctx.raise_if_cancelled()
        ticks += 1
        await ctx.progress(min(99.0, ticks / 10), f"tick {ticks}")
        await asyncio.sleep(0.05)


async def tag(ctx: JobContext) -> str:
    return "tagged"


class RowsParams(BaseModel):
    rows: int = Field(5, ge=0, le=1000)
    gate: str | None = None
    """Held after the first half of the rows until this gate opens."""


async def rows(ctx: JobContext, params: RowsParams) -> int:
    """One partial result per row (HTTP-CONTRACT §14)."""
    for i in range(params.rows):
        if params.gate is not None and i == params.rows // 2:
            await asyncio.to_thread(_GATES[params.gate].wait, GATE_TIMEOUT)
        await ctx.partial({"row": i})
    return params.rows


async def second_time(ctx: JobContext) -> int:
    """Fails for good on its first attempt, completes when retried."""
    if ctx.attempt == 1:
        raise PermanentError("not the first time", code="first_time")
    return ctx.attempt


def make_lro(workdir: Path, **overrides: Any) -> LRO:
    settings = Settings(
        store_url=f"sqlite:///{workdir / 'lro.db'}",
        result_dir=str(workdir / "results"),
        **overrides,
        progress_flush_seconds=0,
        max_wait_seconds=10,
        shutdown_grace_seconds=0.5,
        sse_heartbeat_seconds=1,
    )
    lro = LRO(settings=settings)
    lro.operation("count", estimated_duration=1)(count)
    lro.operation("blob", estimated_duration=1)(blob)
    lro.operation("linger", estimated_duration=1, max_attempts=1)(linger)
    lro.operation("tag", estimated_duration=1)(tag)
    lro.operation("tick", estimated_duration=1, max_attempts=1)(tick)
    lro.operation("rows", estimated_duration=1)(rows)
    lro.operation("second_time", estimated_duration=1, max_attempts=1)(second_time)
    return lro


class ServerThread:
    """uvicorn serving the app on 127.0.0.1 from a daemon thread; `stop()` shuts it down."""

    def __init__(self, workdir: Path, **settings: Any) -> None:
        self.lro = make_lro(workdir, **settings)
        app = self.lro.create_app(embedded_worker=True)
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(20)
        self._sock.close()
