"""A pool whose every connection is in use: a call that cannot get one within
`connect_timeout` raises StoreUnavailable, and the busy connections are kept, not
expired (expiring them turned an overloaded API into a reconnect storm)."""

from __future__ import annotations

import asyncio

import pytest
from tests.postgres.conftest import StoreMaker
from tests.support.listen import WAIT

from lro.errors import StoreUnavailable
from lro.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres

LOCK = 7_190_519


async def _hold_every_connection(store: PostgresStore, holder: PostgresStore, n: int) -> set[int]:
    """Block `n` calls of `store` on an advisory lock `holder` keeps; their backend pids."""
    await holder.db.fetch_sql("SELECT pg_advisory_lock($1)", LOCK)
    blocked = [
        asyncio.create_task(
            store.db.fetch_sql(
                "SELECT pg_backend_pid() AS pid, pg_advisory_xact_lock_shared($1)", LOCK
            )
        )
        for _ in range(n)
    ]
    async with asyncio.timeout(WAIT):  # every call is waiting for the lock on the server
        while True:
            rows = await holder.db.fetch_sql(
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'"
                " AND objid = $1 AND NOT granted",
                LOCK,
            )
            if rows[0]["n"] == n:
                break
            await asyncio.sleep(0.02)
    try:
        with pytest.raises(StoreUnavailable, match="busy"):
            await store.ping()
    finally:
        await holder.db.fetch_sql("SELECT pg_advisory_unlock($1)", LOCK)
    return {(await task)[0]["pid"] for task in blocked}


async def test_acquire_timeout_on_a_busy_pool_keeps_its_connections(
    pg_url: str, make_store: StoreMaker
) -> None:
    store = await make_store(f"{pg_url}?pool_min=2&pool_max=2&connect_timeout=0.3")
    holder = await make_store(f"{pg_url}?pool_min=1&pool_max=1")  # one session: its lock
    first = await _hold_every_connection(store, holder, 2)
    assert len(first) == 2
    # The same two sessions serve the next calls: none was expired and replaced.
    again = await _hold_every_connection(store, holder, 2)
    assert again == first
    await store.ping()
