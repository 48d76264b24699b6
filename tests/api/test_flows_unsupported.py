"""A store backend without flows (the Redis/BullMQ backend, for now) says so: the routes
answer 501 problems and a schedule declared in code stops the start (HTTP-CONTRACT §19).
The store here is a real SQLite store with those capabilities switched off, as such a
backend declares them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.api.helpers import PREFIX, assert_problem

from lro import LRO, JobContext, Settings
from lro.errors import NotSupported
from lro.store.sqlite import SQLiteStore


class WithoutFlows(SQLiteStore):
    supports_flows = False

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches = None  # type: ignore[assignment]
        self.schedules = None  # type: ignore[assignment]
        self.workers = None


async def ping(ctx: JobContext) -> str:
    return "pong"


def _lro(tmp_path: Path) -> LRO:
    app = LRO(WithoutFlows(tmp_path / "lro.db"), settings=Settings(result_dir=str(tmp_path)))
    app.operation("ping", route="/ping")(ping)
    return app


async def test_flows_routes_answer_501(tmp_path: Path) -> None:
    lro = _lro(tmp_path)
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            first = await c.post(f"{PREFIX}/ping", json={})
            assert first.status_code == 202  # plain submits work as ever
            batch = {"jobs": [{"operation": "ping"}]}
            for r in (
                await c.post(f"{PREFIX}/batches", json=batch),
                await c.get(f"{PREFIX}/batches/x"),
                await c.get(f"{PREFIX}/batches"),
                await c.get(f"{PREFIX}/jobs/events", params={"tag": "t"}),
                await c.get(f"{PREFIX}/jobs", params={"tag": "t"}),
                await c.get(f"{PREFIX}/jobs", params={"q": "t"}),
                await c.post(f"{PREFIX}/ping", json={"depends_on": [first.json()["job_id"]]}),
                await c.post(f"{PREFIX}/ping", json={"tags": ["t"]}),
                await c.post(f"{PREFIX}/ping", json={"metadata": {"order": 42}}),
                await c.get(f"{PREFIX}/jobs", params={"created_after": "2026-01-01T00:00:00Z"}),
                await c.get(f"{PREFIX}/jobs", params={"created_before": "2026-01-01T00:00:00Z"}),
                await c.get(f"{PREFIX}/schedules"),
                await c.get(f"{PREFIX}/workers"),
                await c.post(f"{PREFIX}/jobs/bulk/cancel", json={"tag": "t"}),
                await c.post(
                    f"{PREFIX}/schedules", json={"operation": "ping", "cron": "0 3 * * *"}
                ),
            ):
                assert assert_problem(r, 501)["type"].endswith("not-supported"), r.request.url
            listed = (await c.get(f"{PREFIX}/jobs")).json()["items"]
            assert [j["job_id"] for j in listed] == [first.json()["job_id"]]  # nothing stored
    finally:
        await lro.stop()


async def test_a_schedule_in_code_stops_the_start(tmp_path: Path) -> None:
    lro = _lro(tmp_path)
    lro.schedule("nightly", "ping", cron="0 3 * * *")
    with pytest.raises(NotSupported):
        await lro.start()
