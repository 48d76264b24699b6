"""HTTP-CONTRACT §21: quick work simply answers. An operation's `respond_within` holds the
submit for its job; `Prefer` decides over it; a known-slow operation answers 202 at once.

"At once" is shown without clocks: those submits run with no worker and a hold of an
hour, so a server that held would never answer within the test's timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel

from lro import LRO, JobContext, Settings
from lro.testing import run


class Nap(BaseModel):
    seconds: float = 0.0


def make(**settings: object) -> LRO:
    lro = LRO(settings=Settings(**settings))  # type: ignore[arg-type]
    gate = asyncio.Event()

    @lro.operation("quick", route="/quick", respond_within=30)
    async def quick(ctx: JobContext, params: Nap) -> dict[str, str]:
        return {"answer": "now"}

    @lro.operation("gated", route="/gated", respond_within=0.5)
    async def gated(ctx: JobContext) -> str:
        await gate.wait()  # runs until the test lets it finish
        return "late"

    @lro.operation("known_slow", route="/known-slow", respond_within=3600, estimated_duration=7200)
    async def known_slow(ctx: JobContext) -> None:
        return None

    @lro.operation("defaulted", route="/defaulted")
    async def defaulted(ctx: JobContext) -> str:
        return "by default"

    lro.gate = gate  # type: ignore[attr-defined]
    return lro


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[LRO, httpx.AsyncClient]]:
    lro = make()
    async with run(lro, path=tmp_path) as t, t.background_worker():
        yield lro, t.client
        lro.gate.set()  # type: ignore[attr-defined]


async def test_quick_job_answers_200_with_its_result(
    served: tuple[LRO, httpx.AsyncClient],
) -> None:
    _, client = served
    r = await client.post("/api/v1/quick", json={})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "completed"
    assert body["result"] == {"answer": "now"}
    assert "preference-applied" not in r.headers  # the operation decided, not the client
    assert r.headers["content-location"] == body["poll_url"]
    assert (await client.get(body["result_url"])).json() == {"answer": "now"}


async def test_slow_job_answers_202_after_the_hold(served: tuple[LRO, httpx.AsyncClient]) -> None:
    lro, client = served
    r = await client.post("/api/v1/gated", json={})
    assert r.status_code == 202, r.text
    assert r.json()["status"] in {"queued", "processing"}
    assert r.headers["location"] == r.json()["poll_url"]
    lro.gate.set()  # type: ignore[attr-defined]


async def test_replay_of_a_quick_job_answers_like_the_first(
    served: tuple[LRO, httpx.AsyncClient],
) -> None:
    _, client = served
    key = {"Idempotency-Key": "quick-1"}
    first = await client.post("/api/v1/quick", json={}, headers=key)
    again = await client.post("/api/v1/quick", json={}, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["job_id"] == first.json()["job_id"]


async def test_client_prefer_wait_overrides_the_operation(
    served: tuple[LRO, httpx.AsyncClient],
) -> None:
    _, client = served
    r = await client.post("/api/v1/known-slow", json={}, headers={"Prefer": "wait=10"})
    assert r.status_code == 200, r.text
    assert r.headers["preference-applied"] == "wait=10"


@pytest.fixture
async def without_worker(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with run(make(respond_within_seconds=3600), path=tmp_path) as t:
        yield t.client  # no worker runs: a held submit would never be answered


async def test_known_slow_operation_answers_202_at_once(
    without_worker: httpx.AsyncClient,
) -> None:
    r = await without_worker.post("/api/v1/known-slow", json={})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued"
    assert "preference-applied" not in r.headers


async def test_respond_async_answers_202_at_once(without_worker: httpx.AsyncClient) -> None:
    r = await without_worker.post("/api/v1/quick", json={}, headers={"Prefer": "respond-async"})
    assert r.status_code == 202, r.text
    assert r.headers["preference-applied"] == "respond-async"
    assert r.json()["status"] == "queued"


async def test_setting_is_the_default_hold(tmp_path: Path) -> None:
    async with run(make(respond_within_seconds=30), path=tmp_path) as t, t.background_worker():
        r = await t.client.post("/api/v1/defaulted", json={})
        assert r.status_code == 200, r.text
        assert r.json()["result"] == "by default"
        generic = await t.client.post("/api/v1/jobs", json={"operation": "defaulted"})
        assert generic.status_code == 200, generic.text


def test_respond_within_must_not_be_negative(tmp_path: Path) -> None:
    lro = LRO(settings=Settings(store_url=f"sqlite:///{tmp_path / 'lro.db'}"))
    with pytest.raises(ValueError, match="respond_within"):

        @lro.operation("bad", respond_within=-1)
        async def bad(ctx: JobContext) -> None:
            return None
