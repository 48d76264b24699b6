"""What /metrics reads from the store: how long each operation's queue has waited, and
how many webhook deliveries are still to go."""

from __future__ import annotations

from tests.contract.helpers import RETENTION, at, claim_one, lease_of, submit

from lro.deliveries import AttemptRecord, DeliveryStatus
from lro.models import Completion
from lro.store import Store


async def test_oldest_queued_is_per_operation_and_only_due_jobs(store: Store) -> None:
    await submit(store, at(0), operation="a", run_at=at(0))
    await submit(store, at(5), operation="a", run_at=at(5))
    await submit(store, at(3), operation="b", run_at=at(3))
    await submit(store, at(1), operation="c", run_at=at(100))  # not due yet

    assert await store.oldest_queued(at(10)) == {"a": at(0), "b": at(3)}
    # Claimed jobs leave the queue: the next oldest counts.
    running = await claim_one(store, at(11), operations=["a"])
    assert running.run_at == at(0)
    assert await store.oldest_queued(at(11)) == {"a": at(5), "b": at(3)}
    assert "c" in await store.oldest_queued(at(100))


async def test_an_empty_queue_has_no_oldest(store: Store) -> None:
    assert await store.oldest_queued(at(0)) == {}


async def test_pending_deliveries_count_until_delivered(store: Store) -> None:
    assert await store.outbox.pending_deliveries() == 0
    for n in range(2):
        await submit(store, at(n), callback_url="https://hooks.example/lro")
        running = await claim_one(store, at(n + 1))
        await store.complete_jobs([Completion(lease_of(running))], at(n + 2), RETENTION)
    assert await store.outbox.pending_deliveries() == 2

    [claimed, *_] = await store.outbox.claim_deliveries(at(10), at(40), 1)
    done = AttemptRecord(
        delivery_id=claimed.id,
        attempt=claimed.attempts,
        at=at(11),
        status_code=200,
        duration_ms=3.0,
        error=None,
        status=DeliveryStatus.DELIVERED,
        next_attempt_at=None,
    )
    assert await store.outbox.record_attempt(done)
    assert await store.outbox.pending_deliveries() == 1
