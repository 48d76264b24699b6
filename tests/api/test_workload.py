"""Workload control over HTTP (HTTP-CONTRACT §13): the depth cap's 503, the RateLimit
fields of the per-principal submit rate, and GET /operations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel
from tests.api.helpers import PREFIX, make_lro
from tests.security.conftest import headers, served_with
from tests.stream.conftest import Served, serve

from lro import LRO, JobContext


class Import(BaseModel):
    customer_id: str


async def run_import(ctx: JobContext, params: Import) -> None:
    """Import a customer's file."""


def with_limits(lro: LRO) -> LRO:
    lro.operation(
        "imports.run",
        route="/imports",
        queue="imports",
        concurrency=4,
        concurrency_key="customer_id",
        key_concurrency=1,
        rate_limit=(100, 60),
        fair=True,
        max_queued=2,
        timeout=300,
    )(run_import)
    return lro


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async for s in serve(with_limits(make_lro(tmp_path))):
        yield s


async def test_a_submit_over_max_queued_is_a_503_and_stores_nothing(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        for customer in ("a", "b"):
            r = await client.post(f"{PREFIX}/imports", json={"customer_id": customer})
            assert r.status_code == 202, r.text
        full = await client.post(f"{PREFIX}/imports", json={"customer_id": "c"})
        assert full.status_code == 503
        assert full.headers["content-type"].startswith("application/problem+json")
        assert int(full.headers["retry-after"]) >= 1
        problem = full.json()
        assert problem["type"].endswith("queue-full"), problem
        assert problem["max_queued"] == 2 and problem["operation"] == "imports.run"
        listed = (await client.get(f"{PREFIX}/jobs", params={"operation": "imports.run"})).json()
        assert len(listed["items"]) == 2  # the refused one stored nothing
        other = await client.post(f"{PREFIX}/echo", json={"text": "x"})
        assert other.status_code == 202  # other operations are not capped


async def test_operations_lists_limits_and_live_counts(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        for customer in ("a", "b"):
            await client.post(f"{PREFIX}/imports", json={"customer_id": customer})
        r = await client.get(f"{PREFIX}/operations")
        assert r.status_code == 200, r.text
        items = {i["operation"]: i for i in r.json()["items"]}
    # lro's own operations (the bulk actions, HTTP-CONTRACT §14) are listed too: their jobs
    # queue and run like any other.
    assert sorted(items) == [
        "echo",
        "imports.run",
        "lro.bulk.cancel",
        "lro.bulk.retry",
        "ping",
        "ship",
    ]
    imports = items["imports.run"]
    assert {k: imports[k] for k in imports if k != "oldest_queued_age_seconds"} == {
        "operation": "imports.run",
        "queue": "imports",
        "route": f"{PREFIX}/imports",
        "estimated_duration_seconds": None,
        "max_attempts": 3,
        "timeout_seconds": 300,
        "concurrency": 4,
        "key_concurrency": 1,
        "rate_limit": {"limit": 100, "period_seconds": 60},
        "fair": True,
        "max_queued": 2,
        "queued": 2,
        "processing": 0,
        "limits_enforced": True,
    }
    assert imports["oldest_queued_age_seconds"] >= 0
    ping = items["ping"]
    assert ping["queue"] == "default" and ping["route"] is None
    for name in ("concurrency", "key_concurrency", "rate_limit", "max_queued"):
        assert ping[name] is None
    assert ping["fair"] is False and ping["queued"] == 0
    assert ping["oldest_queued_age_seconds"] is None


@pytest.fixture
async def keyed(tmp_path: Path) -> AsyncIterator[Served]:
    async for s in served_with(tmp_path, submit_rate_per_second=2, submit_burst=3):
        with_limits(s.lro)
        yield s


async def test_operations_counts_are_scoped_like_stats(keyed: Served) -> None:
    async with (
        httpx.AsyncClient(base_url=keyed.url, headers=headers("alice")) as alice,
        httpx.AsyncClient(base_url=keyed.url, headers=headers("bob")) as bob,
        httpx.AsyncClient(base_url=keyed.url, headers=headers("admin")) as admin,
    ):
        assert (await alice.post(f"{PREFIX}/echo", json={"text": "x"})).status_code == 202

        async def queued(client: httpx.AsyncClient) -> int:
            items = (await client.get(f"{PREFIX}/operations")).json()["items"]
            return next(i["queued"] for i in items if i["operation"] == "echo")

        assert await queued(alice) == 1
        assert await queued(bob) == 0
        assert await queued(admin) == 1


async def test_rate_limited_answers_carry_the_ratelimit_fields(keyed: Served) -> None:
    async with httpx.AsyncClient(base_url=keyed.url, headers=headers("alice")) as alice:
        answers = [await alice.post(f"{PREFIX}/echo", json={"text": "x"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    remaining = [a.headers["ratelimit"] for a in answers[:3]]
    assert [r.split(";")[1] for r in remaining] == ["r=2", "r=1", "r=0"], remaining
    assert all(r.startswith('"submit";') for r in remaining)
    refused = answers[-1]
    assert refused.headers["ratelimit-policy"] == '"submit";q=3;w=2'
    assert refused.headers["ratelimit"].startswith('"submit";r=0;t=')
    assert int(refused.headers["ratelimit"].rsplit("t=", 1)[1]) >= 1


async def test_unlimited_callers_get_no_ratelimit_field(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        r = await client.post(f"{PREFIX}/echo", json={"text": "x"})
    assert r.status_code == 202 and "ratelimit" not in r.headers
