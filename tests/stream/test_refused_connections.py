"""The database refuses new connections: every store route answers 503 with Retry-After,
never 500, and everything works again once it accepts them (issue 13: with
`ALLOW_CONNECTIONS false`, SQLSTATE 55000, every route answered 500 while /readyz said
503). A role the server does not know (28000) is a database that cannot be used now too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from tests.api.helpers import PREFIX, assert_problem, make_lro
from tests.stream.conftest import Served, serve
from tests.support.postgres import ADMIN_URL, fresh_database, terminate_backends

pytestmark = pytest.mark.postgres


@pytest.fixture
async def on_postgres(tmp_path: Path) -> AsyncIterator[tuple[Served, str]]:
    async with fresh_database() as url:
        async for served in serve(make_lro(tmp_path, store_url=url)):
            yield served, url


async def allow_connections(url: str, allowed: bool) -> None:
    database = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {allowed}')
    finally:
        await admin.close()


async def test_a_database_refusing_connections_is_a_503(
    on_postgres: tuple[Served, str],
) -> None:
    served, url = on_postgres
    async with httpx.AsyncClient(base_url=served.url, timeout=15) as client:
        made = await client.post(f"{PREFIX}/echo", json={"text": "before"})
        assert made.status_code == 202, made.text
        job_id = made.json()["job_id"]
        await allow_connections(url, False)
        try:
            await terminate_backends(url)
            routes = [
                client.get(f"{PREFIX}/jobs"),
                client.get(f"{PREFIX}/jobs/{job_id}"),
                client.post(f"{PREFIX}/echo", json={"text": "during"}),
                client.get(f"{PREFIX}/stats"),
            ]
            for answer in await asyncio.gather(*routes):
                assert_problem(answer, 503)
                assert int(answer.headers["retry-after"]) >= 1
            assert (await client.get("/readyz")).status_code == 503
        finally:
            await allow_connections(url, True)

        async with asyncio.timeout(20):
            while (await client.get(f"{PREFIX}/jobs/{job_id}")).status_code != 200:  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # the pool reconnects on its own: poll it
        assert (await client.get("/readyz")).status_code == 200


async def test_a_role_the_server_refuses_is_a_503(tmp_path: Path) -> None:
    async with fresh_database() as url:
        parts = urlsplit(url)
        refused = urlunsplit(parts._replace(netloc=f"no_such_role@{parts.hostname}:{parts.port}"))
        lro = make_lro(tmp_path, store_url=refused)
        app = lro.create_app()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.get(f"{PREFIX}/jobs")
            assert_problem(answer, 503)
            assert int(answer.headers["retry-after"]) >= 1
