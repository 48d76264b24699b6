"""The webhook outbox, on every backend: a delivery row is written with the change that
ends a job (and only then), claims are exclusive and leased, outcomes are fenced, and
deliveries go with their job."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.contract.helpers import (
    RETENTION,
    StoreFactory,
    at,
    claim_one,
    lease_of,
    submit,
    submit_many,
)

from lro.deliveries import AttemptRecord, Delivery, DeliveryStatus
from lro.models import Completion, ErrorDetail, Failure
from lro.store import RescueParams, Store, SweepParams

URL = "https://receiver.example/hook"
ERROR = ErrorDetail(
    type="about:blank", title="t", detail="d", code="c", retryable=False, attempts=1
)


async def finished_job_with_callback(store: Store, url: str = URL) -> str:
    job = await submit(store, callback_url=url)
    running = await claim_one(store, at(1))
    await store.complete_jobs([Completion(lease_of(running), result={"ok": 1})], at(2), RETENTION)
    return job.id


def outcome(d: Delivery, status: DeliveryStatus, **kw: object) -> AttemptRecord:
    fields: dict[str, object] = dict(
        delivery_id=d.id,
        attempt=d.attempts,
        at=at(5),
        status_code=200,
        duration_ms=12.5,
        error=None,
        status=status,
        next_attempt_at=None,
    )
    fields.update(kw)
    return AttemptRecord(**fields)  # type: ignore[arg-type]


async def test_each_way_a_job_ends_writes_one_delivery(store: Store) -> None:
    completed = await finished_job_with_callback(store)

    failed = await submit(store, callback_url=URL)
    running = await claim_one(store, at(3))
    assert running.id == failed.id
    await store.fail_jobs([Failure(lease_of(running), ERROR)], at(4), RETENTION)

    cancelled = await submit(store, callback_url=URL)
    await store.request_cancel(cancelled.id, at(5), RETENTION)

    lost = await submit(store, callback_url=URL, max_attempts=1)
    await claim_one(store, at(6), lease_seconds=1)
    await store.rescue_expired(RescueParams(at(60), RETENTION))

    expected = {
        completed: "job.completed",
        failed.id: "job.failed",
        cancelled.id: "job.cancelled",
        lost.id: "job.failed",
    }
    for job_id, event_type in expected.items():
        [d] = await store.outbox.list_deliveries(job_id)
        assert (d.event_type, d.url, d.status, d.attempts) == (
            event_type,
            URL,
            DeliveryStatus.PENDING,
            0,
        )
        assert d.id.startswith("msg_") and len(d.id) > 20
        job = await store.get_job(job_id)
        assert job is not None and d.event_at == job.finished_at == d.next_attempt_at


async def test_no_callback_or_no_ending_means_no_delivery(store: Store) -> None:
    plain = await submit(store)
    running = await claim_one(store, at(1))
    await store.complete_jobs([Completion(lease_of(running))], at(2), RETENTION)
    retried = await submit(store, callback_url=URL)
    again = await claim_one(store, at(3))
    await store.fail_jobs([Failure(lease_of(again), ERROR, retry_at=at(9))], at(4), RETENTION)
    assert await store.outbox.list_deliveries(plain.id) == []
    assert await store.outbox.list_deliveries(retried.id) == []  # requeued, not ended
    assert await store.outbox.claim_deliveries(at(100), at(130), 10) == []


async def test_claims_are_exclusive_and_leased(stores: StoreFactory) -> None:
    a, b = await stores(), await stores()
    ids = set()
    for job in await submit_many(a, 30, callback_url=URL):
        ids.add(job.id)
    running = [await claim_one(a, at(1)) for _ in range(30)]
    await a.complete_jobs([Completion(lease_of(j)) for j in running], at(2), RETENTION)

    got = await asyncio.gather(
        *(s.outbox.claim_deliveries(at(3), at(33), 4) for s in (a, b, a, b, a, b, a, b))
    )
    got.append(await a.outbox.claim_deliveries(at(3), at(33), 100))
    claimed = Counter(d.id for batch in got for d in batch)
    assert len(claimed) == 30 and set(claimed.values()) == {1}
    assert {d.job_id for batch in got for d in batch} == ids
    assert all(d.attempts == 1 for batch in got for d in batch)
    # Leased: not due again until the lease ends, then taken again as attempt 2.
    assert await b.outbox.claim_deliveries(at(32), at(62), 100) == []
    again = await b.outbox.claim_deliveries(at(33), at(63), 100)
    assert len(again) == 30 and {d.attempts for d in again} == {2}


async def test_outcomes_are_fenced_by_attempt_number(store: Store) -> None:
    job_id = await finished_job_with_callback(store)
    [first] = await store.outbox.claim_deliveries(at(3), at(4), 10)
    [second] = await store.outbox.claim_deliveries(at(5), at(35), 10)  # lease ran out
    stale = outcome(first, DeliveryStatus.DELIVERED)
    assert await store.outbox.record_attempt(stale) is False
    failed = outcome(
        second,
        DeliveryStatus.PENDING,
        status_code=503,
        error="503 Service Unavailable",
        next_attempt_at=at(10),
    )
    assert await store.outbox.record_attempt(failed) is True
    assert await store.outbox.record_attempt(failed) is False  # the same attempt twice

    [d] = await store.outbox.list_deliveries(job_id)
    assert (d.status, d.attempts, d.last_status_code, d.next_attempt_at) == (
        DeliveryStatus.PENDING,
        2,
        503,
        at(10),
    )
    assert [(h.attempt, h.status_code, h.error) for h in d.history] == [
        (2, 503, "503 Service Unavailable")
    ]
    assert await store.outbox.claim_deliveries(at(9), at(39), 10) == []
    [third] = await store.outbox.claim_deliveries(at(10), at(40), 10)
    assert await store.outbox.record_attempt(outcome(third, DeliveryStatus.DELIVERED, at=at(11)))
    [done] = await store.outbox.list_deliveries(job_id)
    assert (done.status, done.delivered_at, done.next_attempt_at) == (
        DeliveryStatus.DELIVERED,
        at(11),
        None,
    )
    assert [h.attempt for h in done.history] == [2, 3]


async def test_a_manual_retry_gives_a_finished_delivery_one_more_attempt(store: Store) -> None:
    job_id = await finished_job_with_callback(store)
    [d] = await store.outbox.claim_deliveries(at(3), at(33), 10)
    gone = outcome(d, DeliveryStatus.FAILED, status_code=410, error="410 Gone")
    assert await store.outbox.record_attempt(gone)
    assert await store.outbox.claim_deliveries(at(1000), at(1030), 10) == []

    assert await store.outbox.retry_delivery("other-job", d.id, at(50)) is None
    retried = await store.outbox.retry_delivery(job_id, d.id, at(50))
    assert retried is not None
    assert (retried.status, retried.manual, retried.next_attempt_at) == (
        DeliveryStatus.PENDING,
        True,
        at(50),
    )
    [again] = await store.outbox.claim_deliveries(at(50), at(80), 10)
    assert (again.id, again.attempts) == (d.id, 2)
    assert await store.outbox.record_attempt(outcome(again, DeliveryStatus.DELIVERED, at=at(51)))
    [done] = await store.outbox.list_deliveries(job_id)
    assert (done.status, done.manual) == (DeliveryStatus.DELIVERED, False)


async def test_deliveries_go_with_their_job(store: Store) -> None:
    deleted = await finished_job_with_callback(store)
    swept = await finished_job_with_callback(store)
    for d in await store.outbox.claim_deliveries(at(3), at(33), 10):
        assert await store.outbox.record_attempt(outcome(d, DeliveryStatus.DELIVERED))
    assert await store.delete_job(deleted) is not None
    result = await store.sweep(SweepParams(at(RETENTION + 10), 100, 60))
    assert result.job_ids == [swept]
    assert await store.outbox.list_deliveries(deleted) == []
    assert await store.outbox.list_deliveries(swept) == []


async def test_a_shared_setting_is_decided_once(stores: StoreFactory) -> None:
    a, b = await stores(), await stores()
    values = await asyncio.gather(
        a.outbox.shared_setting("webhook_secret", "from-a"),
        b.outbox.shared_setting("webhook_secret", "from-b"),
    )
    assert values[0] == values[1] and values[0] in {"from-a", "from-b"}
    assert await b.outbox.shared_setting("webhook_secret", "later") == values[0]


async def test_progress_deliveries_are_opt_in_and_coalesce(store: Store) -> None:
    from lro.models import ProgressUpdate

    plain = await submit(store, callback_url=URL)
    job = await submit(store, callback_url=URL, callback_progress=True)
    first = await claim_one(store, at(1))
    second = await claim_one(store, at(1))
    running = second if second.id == job.id else first
    other = first if running is second else second
    assert {running.id, other.id} == {plain.id, job.id}

    async def progress(pct: float, when: float) -> None:
        updates = [ProgressUpdate(lease_of(j), pct, f"at {pct}") for j in (running, other)]
        assert await store.set_progress(updates, at(when)) == [True, True]

    def kinds(ds: list[Delivery]) -> list[tuple[str, int]]:
        return [(d.event_type, d.attempts) for d in ds]

    await progress(10, 2)
    await progress(20, 3)  # coalesced into the one not yet attempted
    [pending] = await store.outbox.list_deliveries(job.id)
    assert (pending.event_type, pending.event_at) == ("job.progress", at(3))
    assert await store.outbox.list_deliveries(plain.id) == []

    [taken] = await store.outbox.claim_deliveries(at(4), at(34), 10)
    assert taken.id == pending.id
    await progress(30, 5)  # one is in flight: progress after it gets a new delivery
    await store.complete_jobs([Completion(lease_of(running))], at(6), RETENTION)
    assert kinds(await store.outbox.list_deliveries(job.id)) == [
        ("job.progress", 1),
        ("job.progress", 0),
        ("job.completed", 0),
    ]


async def test_deferred_deliveries_come_back_without_an_attempt(store: Store) -> None:
    job_id = await finished_job_with_callback(store)
    [claimed] = await store.outbox.claim_deliveries(at(3), at(33), 10)
    assert claimed.attempts == 1
    await store.outbox.defer_deliveries([claimed], at(8))
    await store.outbox.defer_deliveries([claimed], at(99))  # stale: attempt 1 is undone
    [back] = await store.outbox.list_deliveries(job_id)
    assert (back.status, back.attempts, back.next_attempt_at) == (
        DeliveryStatus.PENDING,
        0,
        at(8),
    )
    assert await store.outbox.claim_deliveries(at(7), at(37), 10) == []
    [again] = await store.outbox.claim_deliveries(at(8), at(38), 10)
    assert again.attempts == 1


async def test_claims_skip_the_targets_asked_to(store: Store) -> None:
    slow = await finished_job_with_callback(store, "https://slow.example:8443/hook")
    fine = await finished_job_with_callback(store, "http://Fine.example/hook")
    got = await store.outbox.claim_deliveries(at(3), at(33), 10, ["slow.example:8443"])
    assert [(d.job_id, d.target) for d in got] == [(fine, "fine.example:80")]
    [later] = await store.outbox.claim_deliveries(at(3), at(33), 10)
    assert (later.job_id, later.target) == (slow, "slow.example:8443")


async def test_a_manual_retry_waits_for_the_attempt_in_flight(store: Store) -> None:
    """Issue 13: 50 concurrent retries of a delivered webhook sent 13 extra POSTs, several
    in flight at once with one webhook-id, and the history kept 4 attempts of 14. While a
    claim's attempt is in flight, a retry is that attempt: it changes nothing."""
    job_id = await finished_job_with_callback(store)
    [d] = await store.outbox.claim_deliveries(at(3), at(33), 10)
    assert await store.outbox.record_attempt(outcome(d, DeliveryStatus.DELIVERED, at=at(4)))
    retried = await store.outbox.retry_delivery(job_id, d.id, at(10))
    assert retried is not None and retried.status is DeliveryStatus.PENDING
    [again] = await store.outbox.claim_deliveries(at(10), at(40), 10)
    assert again.attempts == 2
    # Retries while attempt 2 is in flight: answered, but nothing becomes due.
    for t in (11, 20, 39):
        during = await store.outbox.retry_delivery(job_id, d.id, at(t))
        assert during is not None
        assert (during.status, during.attempts, during.next_attempt_at) == (
            DeliveryStatus.PENDING,
            2,
            at(40),
        )
        assert await store.outbox.claim_deliveries(at(t), at(t + 30), 10) == []
    assert await store.outbox.record_attempt(outcome(again, DeliveryStatus.DELIVERED, at=at(12)))
    [done] = await store.outbox.list_deliveries(job_id)
    assert [h.attempt for h in done.history] == [1, 2]
    # Once it is no longer in flight a retry works again; so does one after a lost lease.
    third = await store.outbox.retry_delivery(job_id, d.id, at(13))
    assert third is not None and third.next_attempt_at == at(13)
    [claimed] = await store.outbox.claim_deliveries(at(13), at(43), 10)
    lost = await store.outbox.retry_delivery(job_id, d.id, at(44))
    assert lost is not None and lost.next_attempt_at == at(44)
    [taken_over] = await store.outbox.claim_deliveries(at(44), at(74), 10)
    assert (claimed.attempts, taken_over.attempts) == (3, 4)
