"""A worker with workload limits, in one process on a real SQLite store: it serves only
its queues, keeps to the limits while it has free slots, and starts the held-back jobs
once slots free up."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel
from tests.worker.helpers import running_worker, wait_job

from lro import LRO, JobContext, Status


class Item(BaseModel):
    customer: str = ""


async def test_a_worker_serves_only_its_queues(lro: LRO) -> None:
    @lro.operation("media.thumb", queue="media")
    async def thumb(ctx: JobContext) -> str:
        return "thumb"

    @lro.operation("mail.send")
    async def send(ctx: JobContext) -> str:
        return "sent"

    media = await lro.submit("media.thumb")
    mail = await lro.submit("mail.send")
    async with running_worker(lro, queues="media") as worker:
        assert (await wait_job(lro, media.id)).status is Status.COMPLETED
        await worker.wait_idle(timeout=10)
    still = await lro.store.get_job(mail.id)
    assert still is not None and still.status is Status.QUEUED
    with pytest.raises(ValueError, match="queue"):
        lro.worker(2, queues="gpu")


async def test_limits_hold_inside_one_worker_and_held_back_jobs_start_later(
    lro: LRO,
) -> None:
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    release = asyncio.Event()

    @lro.operation("imports.run", concurrency=3, concurrency_key="customer", key_concurrency=1)
    async def run(ctx: JobContext, params: Item) -> None:
        running[params.customer] = running.get(params.customer, 0) + 1
        total = sum(running.values())
        peak["total"] = max(peak.get("total", 0), total)
        peak[params.customer] = max(peak.get(params.customer, 0), running[params.customer])
        await release.wait()
        running[params.customer] -= 1

    jobs = [await lro.submit("imports.run", {"customer": c}) for c in "aaaabbbbcccdd"]
    async with running_worker(lro, concurrency=10) as worker:
        await worker.wait_for(lambda s: s.claimed >= 3, timeout=10)
        assert sum(running.values()) == 3  # 10 free slots, 3 allowed
        release.set()
        for job in jobs:
            assert (await wait_job(lro, job.id)).status is Status.COMPLETED
    assert peak["total"] == 3
    assert all(peak[c] == 1 for c in "abcd")


async def test_a_timed_out_job_gives_its_slot_back(lro: LRO) -> None:
    @lro.operation("slow.call", concurrency=1, timeout=0.2, max_attempts=1)
    async def call(ctx: JobContext) -> None:
        await asyncio.sleep(3600)  # never returns: only its timeout ends it

    first = await lro.submit("slow.call")
    second = await lro.submit("slow.call")
    async with running_worker(lro, concurrency=4):
        for job in (first, second):
            done = await wait_job(lro, job.id)
            assert done.status is Status.FAILED
            assert done.error is not None and done.error.code == "timeout"
