"""The flows routes on PostgreSQL with input that only that backend cannot hold (U+0000
in ids) or that no date arithmetic can (a huge interval): problems, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.api.helpers import PREFIX, assert_problem, make_lro
from tests.support.postgres import fresh_database

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with fresh_database() as url:
        lro = make_lro(tmp_path, store_url=url)
        await lro.start()
        try:
            transport = httpx.ASGITransport(app=lro.create_app())
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                yield c
        finally:
            await lro.stop()


async def test_awkward_flows_input_is_a_problem_not_a_500(pg_client: httpx.AsyncClient) -> None:
    c = pg_client
    assert_problem(await c.get(f"{PREFIX}/batches/a%00b"), 404)
    assert_problem(await c.get(f"{PREFIX}/schedules/a%00b"), 404)
    assert_problem(await c.delete(f"{PREFIX}/schedules/a%00b"), 404)
    assert_problem(await c.post(f"{PREFIX}/schedules/a%00b/trigger"), 404)
    assert_problem(await c.get(f"{PREFIX}/jobs", params={"tag": "a\u0000"}), 400)
    for body, pointer in (
        ({"interval_seconds": 5}, "/operation"),
        ({"operation": "ping", "interval_seconds": 1e308}, "/interval_seconds"),
        ({"operation": "ping", "cron": "0 0 30 2 *"}, "/cron"),
        ({"operation": "ping", "interval_seconds": 5, "timezone": "UTC\u0000"}, "/timezone"),
        ({"operation": "ping", "interval_seconds": 5, "schedule_id": "a\u0000"}, "/schedule_id"),
    ):
        r = await c.post(f"{PREFIX}/schedules", json=body)
        assert pointer in [e["pointer"] for e in assert_problem(r, 422)["errors"]], body
    batch = {"jobs": [{"operation": "ping", "depends_on": ["a\u0000"], "tags": ["x\u0000"]}]}
    r = await c.post(f"{PREFIX}/batches", json=batch)
    pointers = [e["pointer"] for e in assert_problem(r, 422)["errors"]]
    assert "/jobs/0/depends_on/0" in pointers and "/jobs/0/tags/0" in pointers
    r = await c.post(f"{PREFIX}/echo", json={"text": "a", "metadata": {"k\u0000": 1}})
    assert [e["pointer"] for e in assert_problem(r, 422)["errors"]] == ["/metadata/k\u0000"]
