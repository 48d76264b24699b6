"""Schedules over HTTP and in code (HTTP-CONTRACT §16): created, validated, scoped,
paused, triggered, deleted; fired once per due time by any number of schedulers, a missed
firing once."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.helpers import PREFIX, assert_problem, make_lro

from lro import LRO
from lro.errors import Unprocessable
from lro.models import ListQuery, utcnow
from lro.worker.scheduler import Scheduler

EVERY_MINUTE = {"operation": "echo", "params": {"text": "a"}, "interval_seconds": 60}


async def _tagged(lro: LRO, schedule_id: str) -> list[Any]:
    page = await lro.store.list_jobs(
        ListQuery(owner=None, tags=[f"schedule:{schedule_id}"]), utcnow()
    )
    return page.items


async def test_create_read_list_pause_trigger_delete(client: httpx.AsyncClient, lro: LRO) -> None:
    body = {**EVERY_MINUTE, "schedule_id": "minutely", "tags": ["ops"]}
    r = await client.post(f"{PREFIX}/schedules", json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["location"].endswith("/schedules/minutely")
    assert made["schedule_id"] == "minutely" and made["interval_seconds"] == 60
    assert made["overlap"] == "skip" and made["timezone"] == "UTC" and not made["paused"]
    assert made["params"] == {"text": "a", "count": 1} and made["last_job_id"] is None
    assert made["next_run_at"] > made["created_at"]
    assert_problem(await client.post(f"{PREFIX}/schedules", json=body), 409)
    listed = (await client.get(f"{PREFIX}/schedules")).json()["items"]
    assert [s["schedule_id"] for s in listed] == ["minutely"]

    paused = await client.patch(f"{PREFIX}/schedules/minutely", json={"paused": True})
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert paused.json()["next_run_at"] == made["next_run_at"]
    r = await client.post(f"{PREFIX}/schedules/minutely/trigger")
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["tags"] == ["ops", "schedule:minutely"] and job["operation"] == "echo"
    got = (await client.get(f"{PREFIX}/schedules/minutely")).json()
    assert got["last_job_id"] == job["job_id"] and got["last_run_at"] is not None
    cron = await client.patch(
        f"{PREFIX}/schedules/minutely",
        json={"cron": "0 3 * * *", "interval_seconds": None, "timezone": "Europe/Berlin"},
    )
    assert cron.status_code == 200, cron.text
    assert cron.json()["cron"] == "0 3 * * *" and cron.json()["next_run_at"].endswith(":00:00Z")

    assert (await client.delete(f"{PREFIX}/schedules/minutely")).status_code == 204
    assert_problem(await client.get(f"{PREFIX}/schedules/minutely"), 404)
    assert_problem(await client.delete(f"{PREFIX}/schedules/minutely"), 404)
    assert (await client.get(job["poll_url"])).status_code == 200  # its jobs stay


async def test_invalid_schedules_are_422_naming_the_field(client: httpx.AsyncClient) -> None:
    bad = [
        ({"operation": "nope", "interval_seconds": 5}, "/operation"),
        ({"operation": "echo", "params": {}, "interval_seconds": 5}, "/params/text"),
        ({**EVERY_MINUTE, "cron": "* * * * *"}, "/cron"),
        ({"operation": "echo", "params": {"text": "a"}}, "/cron"),
        ({**EVERY_MINUTE, "interval_seconds": 0.5}, "/interval_seconds"),
        ({"operation": "ping", "cron": "61 * * * *"}, "/cron"),
        ({"operation": "ping", "cron": "* * *"}, "/cron"),
        ({**EVERY_MINUTE, "timezone": "Mars/Olympus"}, "/timezone"),
        ({**EVERY_MINUTE, "overlap": "sometimes"}, "/overlap"),
        ({**EVERY_MINUTE, "schedule_id": "has space"}, "/schedule_id"),
        ({**EVERY_MINUTE, "tags": [""]}, "/tags/0"),
        ({**EVERY_MINUTE, "surprise": 1}, "/surprise"),
        ({**EVERY_MINUTE, "callback_url": "ftp://x"}, "/callback_url"),
    ]
    for body, pointer in bad:
        r = await client.post(f"{PREFIX}/schedules", json=body)
        problem = assert_problem(r, 422)
        assert pointer in [e["pointer"] for e in problem["errors"]], (body, problem)
    assert (await client.get(f"{PREFIX}/schedules")).json()["items"] == []


async def test_schedules_are_scoped_to_their_owner(tmp_path: Path) -> None:
    lro = make_lro(tmp_path, api_keys="alice:alice-key-0123,bob:bob-key-01234")
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            alice = {"Authorization": "Bearer alice-key-0123"}
            bob = {"Authorization": "Bearer bob-key-01234"}
            body = {**EVERY_MINUTE, "schedule_id": "mine"}
            assert (
                await c.post(f"{PREFIX}/schedules", json=body, headers=alice)
            ).status_code == 201
            assert_problem(await c.get(f"{PREFIX}/schedules/mine", headers=bob), 404)
            assert_problem(await c.post(f"{PREFIX}/schedules/mine/trigger", headers=bob), 404)
            assert (await c.get(f"{PREFIX}/schedules", headers=bob)).json()["items"] == []
            # The same id is bob's own schedule.
            assert (await c.post(f"{PREFIX}/schedules", json=body, headers=bob)).status_code == 201
    finally:
        await lro.stop()


async def _due_now(lro: LRO, schedule_id: str, ago: timedelta) -> None:
    part = lro.store.schedules
    assert part is not None
    s = await part.get_schedule("", schedule_id)
    assert s is not None
    await part.put_schedule(dataclasses.replace(s, next_run_at=utcnow() - ago), create=False)


async def test_many_schedulers_fire_a_due_time_once(tmp_path: Path) -> None:
    lros = [make_lro(tmp_path) for _ in range(3)]  # three processes' worth, one file
    for app in lros:
        await app.start()
    try:
        transport = httpx.ASGITransport(app=lros[0].create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            body = {**EVERY_MINUTE, "schedule_id": "once", "interval_seconds": 3600}
            assert (await c.post(f"{PREFIX}/schedules", json=body)).status_code == 201
        # Missed for ten periods: it fires once, and its next due time is in the future.
        await _due_now(lros[0], "once", timedelta(hours=10))
        schedulers = [Scheduler(app) for app in lros]
        await asyncio.gather(*(s.fire_due() for s in schedulers for _ in range(4)))
        jobs = await _tagged(lros[0], "once")
        assert len(jobs) == 1 and sum(s.fired for s in schedulers) == 1
        part = lros[0].store.schedules
        assert part is not None
        after = await part.get_schedule("", "once")
        assert after is not None and after.next_run_at > utcnow()
        assert after.last_job_id == jobs[0].id
        await asyncio.gather(*(s.fire_due() for s in schedulers))
        assert len(await _tagged(lros[0], "once")) == 1
    finally:
        for app in lros:
            await app.stop()


async def test_overlap_skip_and_allow(tmp_path: Path) -> None:
    lro = make_lro(tmp_path)
    await lro.start()
    try:
        scheduler = Scheduler(lro)
        for overlap, expected in (("skip", 1), ("allow", 2)):
            sid = f"o-{overlap}"
            lro.schedule(sid, "echo", {"text": "a"}, interval_seconds=3600, overlap=overlap)
            await lro._declare_schedules()  # what start() does with declarations
            for _ in range(2):
                await _due_now(lro, sid, timedelta(seconds=1))
                await scheduler.fire_due()
            assert len(await _tagged(lro, sid)) == expected, overlap
    finally:
        await lro.stop()


async def test_schedules_declared_in_code_are_kept_across_restarts(tmp_path: Path) -> None:
    lro = make_lro(tmp_path)
    lro.schedule("nightly", "echo", {"text": "n"}, cron="0 3 * * *", timezone="Europe/Berlin")
    await lro.start()
    part = lro.store.schedules
    assert part is not None
    first = await part.get_schedule("", "nightly")
    assert first is not None and first.cron == "0 3 * * *"
    assert first.next_run_at.astimezone().minute == 0
    await lro.stop()
    again = make_lro(tmp_path)
    again.schedule("nightly", "echo", {"text": "n"}, cron="0 3 * * *", timezone="Europe/Berlin")
    await again.start()
    try:
        part = again.store.schedules
        assert part is not None
        kept = await part.get_schedule("", "nightly")
        assert kept == first  # unchanged: not even its updated_at moved
    finally:
        await again.stop()
    broken = make_lro(tmp_path)
    broken.schedule("bad", "echo", {"text": "n"}, cron="not cron")
    with pytest.raises(Unprocessable):
        await broken.start()


async def test_a_running_scheduler_fires_an_interval_schedule(tmp_path: Path) -> None:
    lro = make_lro(tmp_path)
    lro.schedule("tick", "ping", interval_seconds=1, overlap="allow")
    await lro.start()
    made: list[str] = []
    two = asyncio.Event()

    def heard(change: Any) -> None:
        if change.version == 1:
            made.append(change.job_id)
            if len(made) >= 2:
                two.set()

    remove = lro.store.add_listener(heard)
    scheduler = lro.scheduler()
    await scheduler.start()
    try:
        async with asyncio.timeout(30):
            await two.wait()
        jobs = await _tagged(lro, "tick")
        assert {j.id for j in jobs} >= set(made[:2])
        assert all(j.operation == "ping" and "schedule:tick" in j.tags for j in jobs)
    finally:
        remove()
        await scheduler.stop()
        await lro.stop()
