"""GET /api/v1/workers: the live workers from the store's registry (HTTP-CONTRACT §18),
admin-only with API keys; a worker that stops beating drops out after 2 x the lease."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from tests.api.helpers import PREFIX, make_lro

from lro import LRO, JobContext
from lro.models import utcnow
from lro.store import WorkerInfo
from lro.worker.registry import Registration

KEYS = "alice:alice-key-0123456789,admin:admin-key-0123456789"


async def get_workers(lro: LRO, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=lro.create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(f"{PREFIX}/workers", headers=headers)


async def test_a_running_worker_is_listed_and_a_stopped_one_is_not(tmp_path: Path) -> None:
    lro = make_lro(tmp_path)
    async with lro.running():
        assert (await get_workers(lro)).json() == {"items": []}
        worker = lro.worker(3)
        await worker.start()
        try:
            answer = await get_workers(lro)
        finally:
            await worker.stop()
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-cache"
        [item] = answer.json()["items"]
        assert item["worker_id"] == worker.id
        assert (item["host"], item["pid"]) == (socket.gethostname(), os.getpid())
        assert item["queues"] == ["default"]
        assert item["operations"] == sorted(lro.operations)
        assert (item["concurrency"], item["busy"]) == (3, 0)
        assert item["started_at"].endswith("Z") and item["last_seen_at"].endswith("Z")
        assert item["started_at"] <= item["last_seen_at"]
        assert (await get_workers(lro)).json() == {"items": []}  # it removed itself


async def test_a_worker_that_stopped_beating_drops_out_after_twice_the_lease(
    tmp_path: Path,
) -> None:
    lro = make_lro(tmp_path, lease_seconds=10)
    async with lro.running():
        registry = lro.store.workers
        assert registry is not None
        now = utcnow()

        def seen(seconds_ago: float, worker_id: str) -> WorkerInfo:
            at = now - timedelta(seconds=seconds_ago)
            return WorkerInfo(worker_id, "box", 1, ("default",), ("echo",), 2, 1, at, at)

        # Killed workers beat no more: one last seen 15 s ago (within 2 x 10 s) is still
        # listed, one last seen 25 s ago is not.
        await registry.beat(seen(15, "recent"))
        await registry.beat(seen(25, "dead"))
        items = (await get_workers(lro)).json()["items"]
        assert [w["worker_id"] for w in items] == ["recent"]
        assert items[0]["busy"] == 1


@pytest.mark.parametrize(
    ("key", "status"),
    [
        (None, 401),
        ("alice-key-0123456789", 403),
        ("admin-key-0123456789", 200),
    ],
)
async def test_with_keys_only_an_admin_sees_the_workers(
    tmp_path: Path, key: str | None, status: int
) -> None:
    lro = make_lro(tmp_path, api_keys=KEYS)
    async with lro.running():
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        answer = await get_workers(lro, **headers)
    assert answer.status_code == status, answer.text
    if status != 200:
        assert answer.headers["content-type"] == "application/problem+json"
    else:
        assert answer.json() == {"items": []}


async def test_busy_counts_the_slots_running_a_job(tmp_path: Path) -> None:
    lro = make_lro(tmp_path)
    release = asyncio.Event()
    started = asyncio.Event()

    @lro.operation("hold")
    async def hold(ctx: JobContext) -> None:
        started.set()
        await release.wait()

    async with lro.running():
        worker = lro.worker(2)
        registration = next(s for s in worker.services if isinstance(s, Registration))
        await worker.start()
        try:
            await lro.submit("hold")
            await asyncio.wait_for(started.wait(), timeout=10)
            await registration.beat()  # what the next scheduled beat would write
            [item] = (await get_workers(lro)).json()["items"]
            assert (item["busy"], item["concurrency"]) == (1, 2)
            assert "hold" in item["operations"]
        finally:
            release.set()
            await worker.stop()


async def test_a_worker_lists_the_queues_it_serves_and_their_operations(tmp_path: Path) -> None:
    """`queues` is what the worker claims from (HTTP-CONTRACT §13, `--queues`), not a
    fixed `default`: one serving `media` lists it and its operations alone; one serving
    every queue lists each queue its app's operations are on."""
    lro = make_lro(tmp_path)

    @lro.operation("media.resize", queue="media")
    async def resize(ctx: JobContext) -> None:
        return None

    async with lro.running():
        for queues, want_queues in (("media", ["media"]), (None, ["default", "media"])):
            worker = lro.worker(1, queues=queues)
            await worker.start()
            try:
                [item] = (await get_workers(lro)).json()["items"]
            finally:
                await worker.stop()
            assert item["queues"] == want_queues
            if queues == "media":
                assert item["operations"] == ["media.resize"]
            else:
                assert item["operations"] == sorted(lro.operations)
