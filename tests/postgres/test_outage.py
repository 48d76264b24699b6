"""A database that goes away: calls raise StoreUnavailable (so /readyz says not ready),
nothing is lost, and pool and LISTEN connection recover on their own once it is back."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import pytest
from tests.postgres.conftest import StoreMaker
from tests.postgres.helpers import T0, new_jobs
from tests.support.listen import WAIT, Recorder
from tests.support.postgres import terminate_backends
from tests.support.tcpproxy import TcpProxy

from lro.errors import StoreUnavailable
from lro.store import ClaimParams
from lro.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


async def _eventually_ok(store: PostgresStore) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            try:
                await store.ping()
                return
            except StoreUnavailable:
                await asyncio.sleep(0.05)


async def test_terminated_backends_are_replaced(pg_url: str, make_store: StoreMaker) -> None:
    store, other = await make_store(f"{pg_url}?pool_min=3&pool_max=3"), await make_store()
    heard = Recorder()
    store.add_listener(heard)
    await asyncio.wait_for(store.listening.wait(), WAIT)
    await store.insert_jobs(new_jobs(5), T0)

    killed = await terminate_backends(pg_url, application_name="lro-")
    assert killed >= 2  # the pools and the LISTEN connection

    # Broken pooled connections surface as StoreUnavailable at worst, never another error,
    # and the pool is whole again at once.
    for _ in range(5):
        with contextlib.suppress(StoreUnavailable):
            await store.ping()
    await _eventually_ok(store)
    assert len(await store.claim_jobs(ClaimParams("w", 10, 30.0, T0))) == 5

    # The LISTEN connection came back too: another store's change reaches us again.
    await asyncio.wait_for(store.listening.wait(), WAIT)
    (inserted,) = await other.insert_jobs(new_jobs(1), T0)
    await heard.wait_until(lambda cs: any(c.job_id == inserted.job.id for c in cs))


async def test_unreachable_server_then_recovery(pg_url: str, make_store: StoreMaker) -> None:
    target = urlsplit(pg_url)
    with TcpProxy(target.port or 5432, target.hostname or "127.0.0.1") as proxy:
        via_proxy = target._replace(netloc=f"{target.username}@127.0.0.1:{proxy.port}").geturl()
        store = await make_store(f"{via_proxy}?connect_timeout=1")
        heard = Recorder()
        store.add_listener(heard)
        await asyncio.wait_for(store.listening.wait(), WAIT)
        await store.insert_jobs(new_jobs(3), T0)

        proxy.off()
        for _ in range(3):
            with pytest.raises(StoreUnavailable):
                await store.ping()
        with pytest.raises(StoreUnavailable):
            await store.claim_jobs(ClaimParams("w", 10, 30.0, T0))
        async with asyncio.timeout(WAIT):
            while store.listening.is_set():  # noqa: ASYNC110 - no event for "cleared"
                await asyncio.sleep(0.01)

        proxy.on()
        await _eventually_ok(store)
        assert len(await store.claim_jobs(ClaimParams("w", 10, 30.0, T0))) == 3  # nothing lost
        await asyncio.wait_for(store.listening.wait(), WAIT)
        other = await make_store()
        (inserted,) = await other.insert_jobs(new_jobs(1), T0)
        await heard.wait_until(lambda cs: any(c.job_id == inserted.job.id for c in cs))


async def test_open_unreachable_raises_store_unavailable() -> None:
    store = PostgresStore.from_url("postgresql://postgres@127.0.0.1:1/nope?connect_timeout=1")
    with pytest.raises(StoreUnavailable):
        await store.open()
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.migrate()
    await store.close()
