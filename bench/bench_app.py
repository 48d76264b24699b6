"""The app the benchmarks run: one no-op operation that records when its handler started.

`lro worker bench_app:lro` (run from this directory) loads it like any user app. Each
handler start is recorded either to the callback set with `set_sink` (in-process runs) or,
when LRO_BENCH_HITS names a file, as one appended line `<start> <t0> <i>` — one small
O_APPEND write, so the handler stays close to free and the numbers measure lro itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from pydantic import BaseModel

from lro import LRO, JobContext

OPERATION = "bench.noop"

Sink = Callable[[float, float, int], None]
_sink: Sink | None = None
_fd: int | None = None


class NoopParams(BaseModel):
    t0: float = 0.0
    """Wall-clock time just before the submit call (for pickup latency)."""
    i: int = -1


def set_sink(sink: Sink | None) -> None:
    """Record handler starts by calling `sink(started, t0, i)` instead of writing a file."""
    global _sink
    _sink = sink


def _record(started: float, t0: float, i: int) -> None:
    global _fd
    if _sink is not None:
        _sink(started, t0, i)
        return
    path = os.environ.get("LRO_BENCH_HITS")
    if not path:
        return
    if _fd is None:
        _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(_fd, f"{started:.6f} {t0:.6f} {i}\n".encode())


def make_app(store: str | None = None) -> LRO:
    app = LRO(store)

    @app.operation(OPERATION, route="/noop", max_attempts=1, estimated_duration=0.01)
    async def noop(ctx: JobContext, params: NoopParams) -> None:
        """Do nothing but note the start time."""
        _record(time.time(), params.t0, params.i)

    return app


lro = make_app()
