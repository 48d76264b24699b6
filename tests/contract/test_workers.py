"""The worker registry (`store.workers`): heartbeats upsert one row per worker, the live
list is what was seen after a cutoff, and stopped or dead workers go."""

from __future__ import annotations

import dataclasses

import pytest
from tests.contract.helpers import StoreFactory, at

from lro.store import Store, WorkerInfo
from lro.store.parts import Workers


def registry(store: Store) -> Workers:
    workers = store.workers
    if workers is None:  # a backend without a registry says so; nothing to test here
        pytest.skip("this backend keeps no worker registry")
    return workers


def info(worker_id: str, *, started: float = 0, seen: float = 0, **fields: object) -> WorkerInfo:
    values: dict[str, object] = {
        "worker_id": worker_id,
        "host": "box-1",
        "pid": 4242,
        "queues": ("default",),
        "operations": ("reports.generate", "demo.sleep"),
        "concurrency": 8,
        "busy": 0,
        "started_at": at(started),
        "last_seen_at": at(seen),
    }
    values.update(fields)
    return WorkerInfo(**values)  # type: ignore[arg-type]


async def test_a_heartbeat_registers_and_the_next_one_updates(store: Store) -> None:
    workers = registry(store)
    assert await workers.live(at(-1)) == []
    first = info("w1", seen=1)
    await workers.beat(first)
    assert await workers.live(at(0)) == [first]
    later = dataclasses.replace(first, busy=3, last_seen_at=at(11))
    await workers.beat(later)
    assert await workers.live(at(0)) == [later]


async def test_live_means_seen_after_the_cutoff_in_start_order(store: Store) -> None:
    workers = registry(store)
    old = info("w-old", started=0, seen=10)
    b = info("w-b", started=5, seen=30, host="box-2", pid=7, queues=(), operations=())
    a = info("w-a", started=5, seen=40, concurrency=1, busy=1)
    for worker in (b, old, a):
        await workers.beat(worker)
    assert await workers.live(at(9)) == [old, a, b]
    assert await workers.live(at(10)) == [a, b]  # seen exactly at the cutoff: gone
    assert await workers.live(at(35)) == [a]
    assert await workers.live(at(40)) == []


async def test_remove_and_prune(store: Store) -> None:
    workers = registry(store)
    for worker_id, seen in (("w1", 1), ("w2", 20), ("w3", 30)):
        await workers.beat(info(worker_id, seen=seen))
    await workers.remove("w3")
    await workers.remove("w3")  # idempotent
    await workers.remove("no-such-worker")
    assert [w.worker_id for w in await workers.live(at(0))] == ["w1", "w2"]
    assert await workers.prune(at(20)) == 1  # seen before 20: only w1
    assert [w.worker_id for w in await workers.live(at(0))] == ["w2"]
    assert await workers.prune(at(20)) == 0


async def test_every_process_sees_every_worker(stores: StoreFactory) -> None:
    api, worker_a, worker_b = await stores(), await stores(), await stores()
    a, b = info("w-a", seen=5), info("w-b", started=1, seen=6, host="box-2")
    await registry(worker_a).beat(a)
    await registry(worker_b).beat(b)
    assert await registry(api).live(at(0)) == [a, b]
    await registry(worker_a).remove("w-a")
    assert await registry(api).live(at(0)) == [b]
