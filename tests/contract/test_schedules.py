"""Schedules (HTTP-CONTRACT §16) on every backend: stored per owner, found when due, and
fired exactly once per due time however many processes try."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from tests.contract.helpers import RETENTION, T0, StoreFactory, at, claim_one, lease_of, new_job

from lro.models import Completion, Status
from lro.store import Schedule, Store
from lro.store.base import Schedules

pytestmark = pytest.mark.usefixtures("needs_flows")


def _part(store: Store) -> Schedules:
    assert store.schedules is not None
    return store.schedules


def schedule(schedule_id: str = "nightly", **fields: object) -> Schedule:
    base = Schedule(
        id=schedule_id,
        owner="",
        operation="op",
        params={"table": "orders"},
        cron=None,
        interval_seconds=10.0,
        timezone="UTC",
        overlap="allow",
        paused=False,
        tags=(f"schedule:{schedule_id}",),
        callback_url=None,
        next_run_at=at(10),
        created_at=T0,
        updated_at=T0,
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def job_for(s: Schedule) -> object:
    return new_job(operation=s.operation, params=s.params, owner=s.owner, tags=s.tags)


async def test_schedules_are_stored_per_owner(store: Store) -> None:
    part = _part(store)
    made = await part.put_schedule(schedule(), create=True)
    assert made is not None and made.next_run_at == at(10) and made.tags == ("schedule:nightly",)
    assert await part.put_schedule(schedule(operation="other"), create=True) is None
    theirs = await part.put_schedule(schedule(owner="bob"), create=True)
    assert theirs is not None
    changed = await part.put_schedule(
        schedule(cron="0 3 * * *", interval_seconds=None, paused=True, updated_at=at(5)),
        create=False,
    )
    assert changed is not None and changed.cron == "0 3 * * *" and changed.paused
    assert changed.created_at == T0 and changed.updated_at == at(5)
    assert [s.owner for s in await part.list_schedules(None)] == ["", "bob"]
    assert [s.id for s in await part.list_schedules("")] == ["nightly"]
    got = await part.get_schedule("bob", "nightly")
    assert got is not None and got.operation == "op" and not got.paused
    assert await part.delete_schedule("", "nightly")
    assert not await part.delete_schedule("", "nightly")
    assert await part.get_schedule("", "nightly") is None
    assert await part.get_schedule("bob", "nightly") is not None


async def test_due_schedules_and_one_firing_per_due_time(store: Store) -> None:
    part = _part(store)
    s = await part.put_schedule(schedule(), create=True)
    assert s is not None
    assert await part.due_schedules(at(9), 10) == []
    [due] = await part.due_schedules(at(10), 10)
    first = await part.fire(due, at(20), job_for(due), at(10.5))  # type: ignore[arg-type]
    assert first.fired and first.job is not None
    assert first.job.tags == ("schedule:nightly",) and first.job.params == {"table": "orders"}
    again = await part.fire(due, at(20), job_for(due), at(10.6))  # type: ignore[arg-type]
    assert not again.fired and again.job is None
    now = await part.get_schedule("", "nightly")
    assert now is not None and now.next_run_at == at(20) and now.last_run_at == at(10)
    assert now.last_job_id == first.job.id
    assert await store.get_job(first.job.id) is not None


async def test_paused_schedules_do_not_fire_but_can_be_triggered(store: Store) -> None:
    part = _part(store)
    s = await part.put_schedule(schedule(paused=True), create=True)
    assert s is not None
    assert await part.due_schedules(at(100), 10) == []
    assert not (await part.fire(s, at(20), job_for(s), at(11))).fired  # type: ignore[arg-type]
    job = await part.trigger(s, job_for(s), at(12))  # type: ignore[arg-type]
    assert job is not None and job.status is Status.QUEUED
    after = await part.get_schedule("", "nightly")
    assert after is not None and after.last_job_id == job.id and after.last_run_at == at(12)
    await part.delete_schedule("", "nightly")
    assert await part.trigger(s, job_for(s), at(13)) is None  # type: ignore[arg-type]


async def test_overlap_skip_makes_no_job_while_the_last_is_unfinished(store: Store) -> None:
    part = _part(store)
    s = await part.put_schedule(schedule(overlap="skip"), create=True)
    assert s is not None
    first = await part.fire(s, at(20), job_for(s), at(10))  # type: ignore[arg-type]
    assert first.job is not None
    s2 = await part.get_schedule("", "nightly")
    assert s2 is not None
    skipped = await part.fire(s2, at(30), job_for(s2), at(20))  # type: ignore[arg-type]
    assert skipped.fired and skipped.job is None
    running = await claim_one(store, at(21))
    await store.complete_jobs([Completion(lease_of(running))], at(25), RETENTION)
    s3 = await part.get_schedule("", "nightly")
    assert s3 is not None and s3.next_run_at == at(30)
    made = await part.fire(s3, at(40), job_for(s3), at(30))  # type: ignore[arg-type]
    assert made.job is not None


async def test_many_processes_firing_one_due_time_make_one_job(stores: StoreFactory) -> None:
    many = [await stores() for _ in range(4)]
    s = await _part(many[0]).put_schedule(schedule(), create=True)
    assert s is not None
    firings = await asyncio.gather(
        *(
            _part(many[i % 4]).fire(s, at(20), job_for(s), at(10))  # type: ignore[arg-type]
            for i in range(12)
        )
    )
    made = [f.job for f in firings if f.job is not None]
    assert len(made) == 1 and sum(f.fired for f in firings) == 1
