"""API test fixtures: the test app (tests/api/helpers.py) on a real SQLite store in
tmp_path, and an httpx client on its ASGI app. ASGITransport does not run the lifespan,
so the fixture starts and stops the LRO itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tests.api.helpers import make_lro

from lro import LRO


@pytest.fixture
async def lro(tmp_path: Path) -> AsyncIterator[LRO]:
    app = make_lro(tmp_path)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@pytest.fixture
def app(lro: LRO) -> FastAPI:
    return lro.create_app()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
