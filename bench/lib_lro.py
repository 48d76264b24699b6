"""lro adapter for the peer harness in /work/shared/bench-peers (see its README).

    cd /work/shared/bench-peers
    PYTHONPATH=/work/main/bench /work/main/.venv/bin/python harness.py lib_lro \
        --n 10000 --conc 20 --lat 200

The store comes from LRO_BENCH_STORE: default a SQLite file in the temp directory; for the
side-by-side comparison with pgqueuer and procrastinate point it at a PostgreSQL database
of its own, e.g. `postgresql://postgres@127.0.0.1:5432/bench_lro`, or a Redis database
(`redis://127.0.0.1:6379/15`, bench/redis.sh: every job a BullMQ job). `reset()` wipes
that database (SQLite: deletes the file; PostgreSQL: drops and recreates the `public`
schema; Redis: FLUSHDB of that database number), so never point it at data you want to keep.

Enqueue uses the library API (`LRO.submit` / `LRO.submit_many`), and the worker is
`LRO.worker(conc).run_until_stopped()`, exactly what `lro worker` runs.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from types import TracebackType

from pydantic import BaseModel

from lro import LRO, JobContext, SubmitRequest

_PEERS = os.environ.get("BENCH_PEERS", "/work/shared/bench-peers")
if _PEERS not in sys.path:
    sys.path.append(_PEERS)

import harness  # noqa: E402  (the peer harness module: counters shared with the parent)

STORE = os.environ.get(
    "LRO_BENCH_STORE", f"sqlite:///{Path(tempfile.gettempdir()) / 'lro-bench-peers.db'}"
)
NAME = "lro-redis" if STORE.startswith(("redis://", "rediss://")) else "lro"
VERSION = version("lro")
BATCH_KIND = "native"


class HitParams(BaseModel):
    t0: float
    i: int


def make_app() -> LRO:
    app = LRO(STORE)

    @app.operation("noop", max_attempts=1)
    async def noop(ctx: JobContext, params: HitParams) -> None:
        harness.hit(params.t0, params.i)

    return app


def _remove_sqlite_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


async def reset() -> None:
    if STORE.startswith("sqlite:///"):
        _remove_sqlite_files(STORE.removeprefix("sqlite:///"))
        return
    if STORE.startswith(("redis://", "rediss://")):
        import redis.asyncio as aioredis

        client = aioredis.from_url(STORE)  # only the database the URL names is emptied
        try:
            await client.flushdb()
        finally:
            await client.aclose()
        return
    import asyncpg

    conn = await asyncpg.connect(STORE)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


class _Producer:
    async def __aenter__(self) -> _Producer:
        self.app = make_app()
        await self.app.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.app.stop()

    async def enqueue(self, t0: float, i: int) -> None:
        await self.app.submit("noop", {"t0": t0, "i": i})

    async def enqueue_batch(self, items: list[tuple[float, int]]) -> None:
        await self.app.submit_many([SubmitRequest("noop", {"t0": t0, "i": i}) for t0, i in items])


def producer() -> _Producer:
    return _Producer()


async def _worker(conc: int) -> None:
    app = make_app()
    async with app.running():
        await app.worker(conc).run_until_stopped()


def worker_main(conc: int) -> None:
    asyncio.run(_worker(conc))
