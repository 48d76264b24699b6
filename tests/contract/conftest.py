"""The store contract suite: every test here runs once per backend in BACKENDS.

Tests talk to the store only through the `Store` protocol. Adding a backend is one entry
in BACKENDS and one branch in `database_url` (PostgreSQL: `tests/support/postgres.py`
provides a fresh database per test). A backend difference is an explicit, commented skip.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.contract.helpers import StoreFactory

from lro.store import Store

BACKENDS: list[object] = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]
"""Backend ids; append e.g. `pytest.param("postgres", marks=pytest.mark.postgres)`."""


@contextlib.asynccontextmanager
async def database_url(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database for one test, as a store URL; dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'lro.db'}"
        return
    if kind == "postgres":
        from tests.support.postgres import fresh_database

        async with fresh_database() as url:
            yield url
        return
    if kind == "redis":
        from tests.support.redis import fresh_database as fresh_redis

        async with fresh_redis() as url:
            yield url
        return
    raise ValueError(f"unknown store backend {kind!r}")


@pytest.fixture(params=BACKENDS)
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    kind = str(request.param)
    async with database_url(kind, tmp_path) as url:
        factory = StoreFactory(kind, url)
        try:
            yield factory
        finally:
            await factory.close_all()


@pytest.fixture
async def store(stores: StoreFactory) -> Store:
    return await stores()


@pytest.fixture
async def needs_flows(store: Store) -> None:
    """Skip a flows case (tags, batches, dependencies, schedules: HTTP-CONTRACT §15-§17) on
    a backend that declares it has none; its API answers 501 for them instead (tested in
    tests/api/test_flows_unsupported.py). Both SQL backends must have them (test_tags)."""
    from lro.store.capabilities import has_flows

    if not has_flows(store) or store.batches is None or store.schedules is None:
        pytest.skip(f"{type(store).__name__} has no flows (Store.supports_flows is False)")
