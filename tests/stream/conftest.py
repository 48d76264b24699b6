"""Fixtures for the event-stream tests: the API test app served by a real uvicorn server
on a loopback port, inside the test's own event loop, so tests can move jobs through the
store's verbs (tests/api/helpers.py) and watch the streams react."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from tests.api.helpers import make_lro
from tests.support.postgres import fresh_database
from tests.support.procs import free_port

from lro import LRO


@dataclass
class Served:
    lro: LRO
    url: str


async def serve(lro: LRO) -> AsyncIterator[Served]:
    port = free_port()
    config = uvicorn.Config(
        lro.create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield Served(lro, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    """The API on a real server, once per backend."""
    if request.param == "sqlite":
        lro = make_lro(tmp_path)
        async for s in serve(lro):
            yield s
        return
    async with fresh_database() as url:
        lro = make_lro(tmp_path, store_url=url)
        async for s in serve(lro):
            yield s


@pytest.fixture
async def served_fast_heartbeat(tmp_path: Path) -> AsyncIterator[Served]:
    """Heartbeats every 0.2 s, to see them without waiting 10 s (backend-independent)."""
    lro = make_lro(tmp_path, sse_heartbeat_seconds=0.2)
    async for s in serve(lro):
        yield s
