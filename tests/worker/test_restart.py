"""An LRO built from a URL can be stopped and started again, on another event loop too:
a script or test that calls `asyncio.run` twice with one app object."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import BaseModel
from tests.worker.helpers import running_worker, wait_job

from lro import LRO, JobContext, Settings, Status
from lro.errors import StoreUnavailable
from lro.store import open_store


class Number(BaseModel):
    n: int


def _app(tmp_path: Path, settings: Settings) -> LRO:
    app = LRO(store=f"sqlite:///{tmp_path}/lro.db", settings=settings)

    @app.operation("double", max_attempts=1)
    async def double(ctx: JobContext, params: Number) -> int:
        return params.n * 2

    return app


async def _submit_and_run(app: LRO, n: int, earlier: list[str]) -> list[object]:
    """Run one job to its end, then read back every job of the earlier runs."""
    async with app.running():
        job = await app.submit("double", {"n": n})
        async with running_worker(app):
            done = await wait_job(app, job.id)
        assert done.status is Status.COMPLETED
        earlier.append(job.id)
        return [(await app.store.get_job(i)).result for i in earlier]  # type: ignore[union-attr]


def test_restart_on_a_new_event_loop(tmp_path: Path, settings: Settings) -> None:
    app = _app(tmp_path, settings)
    ids: list[str] = []
    assert asyncio.run(_submit_and_run(app, 2, ids)) == [4]
    assert asyncio.run(_submit_and_run(app, 5, ids)) == [4, 10]


async def test_a_store_passed_in_is_not_reopened(tmp_path: Path, settings: Settings) -> None:
    store = open_store(f"sqlite:///{tmp_path}/own.db")
    app = LRO(store=store, settings=settings)
    await app.start()
    await app.stop()
    assert app.store is store
    with pytest.raises(StoreUnavailable):
        await app.start()
