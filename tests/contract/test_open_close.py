"""open / migrate / ping / close."""

from __future__ import annotations

import pytest
from tests.contract.helpers import StoreFactory, submit

from lro.errors import StoreUnavailable
from lro.store import Store


async def test_migrate_is_idempotent_and_reopen_is_a_no_op(stores: StoreFactory) -> None:
    first = await stores()
    version = await first.migrate()
    assert version >= 1
    assert await first.migrate() == version
    job = await submit(first)
    await first.close()
    again = await stores()
    assert await again.migrate() == version
    assert await again.get_job(job.id) == job


async def test_ping_and_closed_store(store: Store) -> None:
    await store.ping()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreUnavailable):
        await store.get_job("x")
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await submit(store)
