"""Abuse-limit counters on every backend: token buckets shared by all stores (processes)
on one database, per-owner counts of unfinished jobs, and the admin's all-owner list."""

from __future__ import annotations

import asyncio

import pytest
from tests.contract.helpers import T0, StoreFactory, at, claim_one, lease_of, submit

from lro.models import Completion, ListQuery
from lro.store import Store


async def test_a_bucket_grants_its_burst_then_refills_at_its_rate(store: Store) -> None:
    take = store.quotas.take_tokens
    for _ in range(3):
        assert await take("submit:alice", rate=2.0, burst=3, cost=1, now=T0) == 0.0
    assert await take("submit:alice", rate=2.0, burst=3, cost=1, now=T0) == pytest.approx(0.5)
    assert await take("submit:bob", rate=2.0, burst=3, cost=1, now=T0) == 0.0  # own bucket
    assert await take("submit:alice", rate=2.0, burst=3, cost=1, now=at(0.5)) == 0.0
    assert await take("submit:alice", rate=2.0, burst=3, cost=1, now=at(0.5)) > 0
    # Never more than the burst, however long it rested.
    for _ in range(3):
        assert await take("submit:alice", rate=2.0, burst=3, cost=1, now=at(3600)) == 0.0
    assert await take("submit:alice", rate=2.0, burst=3, cost=1, now=at(3600)) > 0


async def test_one_budget_across_processes(stores: StoreFactory) -> None:
    a, b = await stores(), await stores()
    waits = await asyncio.gather(
        *(s.quotas.take_tokens("k", rate=0.001, burst=5, cost=1, now=T0) for s in [a, b] * 10)
    )
    assert sorted(waits)[:5] == [0.0] * 5
    assert all(w > 0 for w in sorted(waits)[5:])


async def test_active_jobs_counts_queued_and_processing_per_owner(store: Store) -> None:
    await submit(store, owner="alice")
    await submit(store, owner="alice")
    await submit(store, owner="bob")
    running = await claim_one(store, at(1))
    assert await store.quotas.active_jobs("alice") == 2
    await store.complete_jobs([Completion(lease_of(running))], at(2), 3600)
    counts = {o: await store.quotas.active_jobs(o) for o in ("alice", "bob", "carol")}
    assert sum(counts.values()) == 2 and counts["carol"] == 0


async def test_an_admin_list_spans_every_owner(store: Store) -> None:
    for owner in ("alice", "bob", "alice"):
        await submit(store, owner=owner)
    everyone = await store.list_jobs(ListQuery(owner=None, limit=2), T0)
    assert len(everyone.items) == 2 and everyone.next_cursor is not None
    rest = await store.list_jobs(ListQuery(owner=None, limit=2, cursor=everyone.next_cursor), T0)
    assert len(rest.items) == 1 and rest.next_cursor is None
    owners = sorted(j.owner for j in [*everyone.items, *rest.items])
    assert owners == ["alice", "alice", "bob"]
    alice = await store.list_jobs(ListQuery(owner="alice"), T0)
    assert [j.owner for j in alice.items] == ["alice", "alice"]


async def test_tokens_left_reads_a_bucket_without_taking(store: Store) -> None:
    left = store.quotas.tokens_left
    assert await left("submit:new", rate=2.0, burst=3, now=T0) == 3  # never used: full
    await store.quotas.take_tokens("submit:alice", rate=2.0, burst=3, cost=2, now=T0)
    assert await left("submit:alice", rate=2.0, burst=3, now=T0) == pytest.approx(1)
    assert await left("submit:alice", rate=2.0, burst=3, now=T0) == pytest.approx(1)
    assert await left("submit:alice", rate=2.0, burst=3, now=at(0.5)) == pytest.approx(2)
    assert await left("submit:alice", rate=2.0, burst=3, now=at(60)) == pytest.approx(3)
