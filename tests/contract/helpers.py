"""Small builders shared by the contract tests; everything goes through the Store protocol."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from lro.models import Completion, Job, Lease, NewJob
from lro.store import ClaimParams, Store, open_store

T0 = datetime(2030, 1, 1, tzinfo=UTC)
RETENTION = 3600.0
LEASE = 30.0
POLL_INTERVAL = 0.01
"""Fast cross-process polling (SQLite) so listener tests finish quickly."""


def at(seconds: float) -> datetime:
    """T0 + seconds: tests move time by passing later `now` values, never by sleeping."""
    return T0 + timedelta(seconds=seconds)


def new_job(**fields: Any) -> NewJob:
    fields.setdefault("id", str(uuid.uuid4()))
    fields.setdefault("operation", "op")
    fields.setdefault("params", {"n": 1})
    return NewJob(**fields)


async def submit(store: Store, now: datetime = T0, **fields: Any) -> Job:
    (inserted,) = await store.insert_jobs([new_job(**fields)], now)
    assert inserted.created
    return inserted.job


async def submit_many(store: Store, count: int, now: datetime = T0, **fields: Any) -> list[Job]:
    inserted = await store.insert_jobs([new_job(**fields) for _ in range(count)], now)
    return [i.job for i in inserted]


async def claim(
    store: Store,
    limit: int = 10,
    now: datetime = T0,
    *,
    worker_id: str = "w1",
    lease_seconds: float = LEASE,
    operations: Sequence[str] | None = None,
) -> list[Job]:
    return await store.claim_jobs(
        ClaimParams(
            worker_id=worker_id,
            limit=limit,
            lease_seconds=lease_seconds,
            now=now,
            operations=operations,
        )
    )


async def claim_one(store: Store, now: datetime = T0, **kw: Any) -> Job:
    jobs = await claim(store, 1, now, **kw)
    assert len(jobs) == 1, jobs
    return jobs[0]


def lease_of(job: Job) -> Lease:
    assert job.lease_token is not None
    return Lease(job.id, job.lease_token)


async def current(store: Store, job_id: str) -> Job:
    job = await store.get_job(job_id)
    assert job is not None
    return job


async def event_kinds(store: Store, job_id: str) -> list[tuple[int, str]]:
    return [(e.version, e.kind) for e in await store.events_after(job_id, 0)]


async def make_store(url: str) -> Store:
    """An opened store on `url` (migrations applied)."""
    store = open_store(url, poll_interval=POLL_INTERVAL)
    await store.open()
    return store


class StoreFactory:
    """Opens stores on one database. Each store has its own connections, so two of them
    stand in for two processes (API and worker, or two workers)."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        self.url = url
        self._stores: list[Store] = []

    async def __call__(self) -> Store:
        store = await make_store(self.url)
        self._stores.append(store)
        return store

    async def close_all(self) -> None:
        for store in reversed(self._stores):
            await store.close()


async def make_waiting_child(store: Store) -> Job:
    """A job `parent` and a job `child` waiting on it; returns the child."""
    parent = await store.insert_jobs([new_job(operation="parent")], T0)
    child = new_job(operation="child", depends_on=(parent[0].job.id,))
    (inserted,) = await store.insert_jobs([child], T0)
    assert inserted.job.waiting_on == (parent[0].job.id,)
    return inserted.job


async def complete_parent_releases(store: Store, child: Job) -> None:
    """Run `parent` to completion; its waiting `child` is then released and claimable."""
    [running] = await claim(store, 1, at(1), operations=["parent"])
    await store.complete_jobs([Completion(lease_of(running), 1)], at(2), RETENTION)
    released = await store.get_job(child.id)
    assert released is not None and released.waiting_on == ()
    assert [j.id for j in await claim(store, 1, at(2), operations=["child"])] == [child.id]
