"""Fixtures for the PostgreSQL-only tests: a fresh database per test and stores on it.

Several stores on one database stand in for several processes (each has its own pool and
its own LISTEN connection), which is what these tests are about.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from tests.support.postgres import fresh_database

from lro.store.postgres import PostgresStore

StoreMaker = Callable[..., Awaitable[PostgresStore]]


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, migrated database."""
    async with fresh_database() as url:
        yield url


@pytest.fixture
async def empty_pg_url() -> AsyncIterator[str]:
    """A fresh database with no lro schema at all."""
    async with fresh_database(migrated=False) as url:
        yield url


@pytest.fixture
async def make_store(pg_url: str) -> AsyncIterator[StoreMaker]:
    """Opens PostgresStores on `pg_url` (or a URL given); all are closed afterwards."""
    opened: list[PostgresStore] = []

    async def make(url: str | None = None, *, open_: bool = True) -> PostgresStore:
        store = PostgresStore.from_url(url or pg_url)
        opened.append(store)
        if open_:
            await store.open()
        return store

    try:
        yield make
    finally:
        for store in reversed(opened):
            await store.close()
