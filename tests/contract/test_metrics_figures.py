"""The store figures behind the metrics (lro.metrics), on every backend with the part:
`Workload.usage` (slots in use, jobs held back by limit) and `Batches.count_batches`.

`usage` must agree with the claim: after each case the claim is run at the same `now`,
and it starts exactly the due jobs `usage` did not count as held back.
"""

from __future__ import annotations

import pytest
from tests.contract.helpers import RETENTION, T0, at, claim, lease_of, new_job
from tests.contract.test_limits_claim import add, finish, take, workload_of

from lro.models import Completion
from lro.store import NewBatch, Store
from lro.store.base import LimitedOperation, LimitUsage


async def usage(store: Store, spec: LimitedOperation, now: float = 0.0) -> LimitUsage:
    (got,) = await workload_of(store).usage([spec], at(now))
    return got


def held(u: LimitUsage) -> tuple[int, int, int, int]:
    return (u.slots_in_use, u.held_key, u.held_concurrency, u.held_rate)


async def test_usage_of_an_idle_operation_is_all_zero(store: Store) -> None:
    spec = LimitedOperation("op", concurrency=2)
    assert await usage(store, spec) == LimitUsage("op", 0, 0, 0, 0)


async def test_usage_counts_jobs_beyond_concurrency_and_the_claim_agrees(store: Store) -> None:
    spec = LimitedOperation("op", concurrency=3)
    await add(store, "", 5)
    assert held(await usage(store, spec)) == (0, 0, 2, 0)
    assert len(await take(store, spec)) == 3  # 5 due - 2 held back
    assert held(await usage(store, spec)) == (3, 0, 2, 0)
    assert await take(store, spec) == []


async def test_key_holds_come_before_concurrency(store: Store) -> None:
    # Key a: 4 due with key_concurrency 1 -> 3 held by the key; keys a, b, c offer one
    # each, and concurrency 2 holds one of those three.
    spec = LimitedOperation("op", concurrency=2, key_concurrency=1)
    key_of = {j.id: k for k, n in (("a", 4), ("b", 1), ("c", 1)) for j in await add(store, k, n)}
    assert held(await usage(store, spec)) == (0, 3, 1, 0)
    running = await take(store, spec)
    assert len(running) == 2 and len({key_of[j.id] for j in running}) == 2
    # Whichever two keys run, a still has 3 jobs behind its one slot, and the third key's
    # job waits for the operation's concurrency.
    assert held(await usage(store, spec)) == (2, 3, 1, 0)
    await finish(store, running)
    assert held(await usage(store, spec, 1.0)) == (0, 2, 0, 0)
    assert len(await take(store, spec, now=1.0)) == 2


async def test_rate_window_holds_what_the_keys_and_concurrency_let_through(
    store: Store,
) -> None:
    spec = LimitedOperation("op", rate_limit=2, rate_period_seconds=60)
    await add(store, "", 5)
    assert held(await usage(store, spec)) == (0, 0, 0, 3)
    assert len(await take(store, spec)) == 2
    assert held(await usage(store, spec)) == (2, 0, 0, 3)
    # Still inside the window at 59 s; at 61 s it has passed, the claim's starts with it.
    assert held(await usage(store, spec, 59.0)) == (2, 0, 0, 3)
    assert held(await usage(store, spec, 61.0)) == (2, 0, 0, 1)
    assert len(await take(store, spec, now=61.0)) == 2


async def test_jobs_not_yet_due_are_never_held_back(store: Store) -> None:
    spec = LimitedOperation("op", concurrency=1)
    await add(store, "", 3, run_at=at(100))
    assert held(await usage(store, spec)) == (0, 0, 0, 0)
    assert held(await usage(store, spec, 100.0)) == (0, 0, 2, 0)


async def test_usage_reports_operations_in_the_order_asked_and_writes_nothing(
    store: Store,
) -> None:
    await add(store, "", 2, operation="x")
    specs = [LimitedOperation("y", concurrency=1), LimitedOperation("x", concurrency=1)]
    first = await workload_of(store).usage(specs, T0)
    assert [u.operation for u in first] == ["y", "x"]
    assert held(first[1]) == (0, 0, 1, 0)
    assert await workload_of(store).usage(specs, T0) == first
    assert len(await take(store, LimitedOperation("x", concurrency=1))) == 1
    # Plain (key-less) jobs of an operation are not the limited claim's: never counted.
    await store.insert_jobs([new_job(operation="y")], T0)
    assert held((await workload_of(store).usage(specs, T0))[0]) == (0, 0, 0, 0)
    assert len(await claim(store, 10)) == 1


@pytest.mark.usefixtures("needs_flows")
async def test_count_batches_counts_open_and_finished_rows(store: Store) -> None:
    batches = store.batches
    assert batches is not None
    assert await batches.count_batches() == {"open": 0, "finished": 0}
    for name, n in (("big", 2), ("small", 1)):
        jobs = [new_job(batch_id=name) for _ in range(n)]
        await batches.insert_batch(NewBatch(id=name, owner="", jobs=jobs), T0)
    assert await batches.count_batches() == {"open": 2, "finished": 0}
    running = await claim(store, 10)
    assert len(running) == 3
    small = [lease_of(j) for j in running if j.batch_id == "small"]
    big = [lease_of(j) for j in running if j.batch_id == "big"]
    await store.complete_jobs([Completion(small[0])], at(1), RETENTION)
    await store.complete_jobs([Completion(big[0])], at(1), RETENTION)
    assert await batches.count_batches() == {"open": 1, "finished": 1}
    await store.complete_jobs([Completion(big[1])], at(2), RETENTION)
    assert await batches.count_batches() == {"open": 0, "finished": 2}
