"""A real server with API keys for three principals: alice, bob and the admin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.helpers import make_lro
from tests.stream.conftest import Served, serve

KEYS = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789", "admin": "admin-key-0123"}
LINK_SECRET = "test-link-secret"


def headers(who: str | None) -> dict[str, str]:
    if who is None:
        return {}
    if who == "wrong":
        return {"Authorization": "Bearer not-a-key"}
    return {"Authorization": f"Bearer {KEYS[who]}"}


async def served_with(tmp_path: Path, **settings: Any) -> AsyncIterator[Served]:
    lro = make_lro(
        tmp_path,
        api_keys=",".join(f"{p}:{k}" for p, k in KEYS.items()),
        result_link_secret=LINK_SECRET,
        **settings,
    )
    async for s in serve(lro):
        yield s


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[Served]:
    async for s in served_with(tmp_path):
        yield s


Clients = Callable[[str | None], httpx.AsyncClient]


@pytest.fixture
async def as_(secured: Served) -> AsyncIterator[Clients]:
    """`as_("alice")` is an httpx client with alice's key (None: no key, "wrong": bad key)."""
    opened: list[httpx.AsyncClient] = []

    def make(who: str | None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=secured.url, headers=headers(who), timeout=10)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()
