"""The state machine: progress, complete, fail/retry, cancel, release, rescue, delete, and
the version/event rule that every change follows."""

from __future__ import annotations

from tests.contract.helpers import (
    RETENTION,
    T0,
    at,
    claim,
    claim_one,
    current,
    event_kinds,
    lease_of,
    submit,
)

from lro.models import Completion, ErrorDetail, Failure, ProgressUpdate, ResultRef, Status
from lro.retry import RetryPolicy
from lro.store import (
    CancelOutcome,
    CancelResult,
    ClaimParams,
    DeleteResult,
    RescueParams,
    Store,
    worker_lost_error,
)

ERROR = ErrorDetail(
    type="https://example.com/problems/bad-input",
    title="Bad input",
    detail="row 3 is empty",
    code="bad_input",
    retryable=False,
    attempts=1,
)


async def test_progress_never_decreases_and_only_changes_write_events(store: Store) -> None:
    await submit(store)
    job = await claim_one(store)
    lease = lease_of(job)
    assert await store.set_progress([ProgressUpdate(lease, 40, "reading")], at(1)) == [True]
    assert await store.set_progress([ProgressUpdate(lease, 20, None)], at(2)) == [True]
    now = await current(store, job.id)
    assert (now.progress_pct, now.step, now.version) == (40, "reading", 3)
    assert now.updated_at == at(1)  # the no-op update wrote nothing
    assert await store.set_progress([ProgressUpdate(lease, 40, "writing")], at(3)) == [True]
    assert await store.set_progress([ProgressUpdate(lease, 75.5, None)], at(4)) == [True]
    now = await current(store, job.id)
    assert (now.progress_pct, now.step, now.version, now.updated_at) == (75.5, "writing", 5, at(4))
    assert await event_kinds(store, job.id) == [
        (1, "status"),
        (2, "status"),
        (3, "progress"),
        (4, "progress"),
        (5, "progress"),
    ]
    events = await store.events_after(job.id, 2)
    assert [(e.progress_pct, e.step, e.at) for e in events] == [
        (40, "reading", at(1)),
        (40, "writing", at(3)),
        (75.5, "writing", at(4)),
    ]
    assert all(e.status is Status.PROCESSING and e.attempt == 1 for e in events)
    assert await store.set_progress([], at(5)) == []


async def test_set_progress_batch_reports_per_lease(store: Store) -> None:
    await submit(store)
    await submit(store)
    a, b = await claim(store, 2)
    await store.release_jobs([lease_of(b)], at(1))
    held = await store.set_progress(
        [ProgressUpdate(lease_of(a), 10, None), ProgressUpdate(lease_of(b), 10, None)], at(2)
    )
    assert held == [True, False]


async def test_complete_sets_result_and_retention(store: Store) -> None:
    await submit(store)
    await submit(store)
    a, b = await claim(store, 2)
    ref = ResultRef(key="results/b.csv", content_type="text/csv", size=42, filename="b.csv")
    done = await store.complete_jobs(
        [Completion(lease_of(a), result={"rows": 3}), Completion(lease_of(b), result_ref=ref)],
        at(10),
        RETENTION,
    )
    assert [j.id if j else None for j in done] == [a.id, b.id]
    for job in done:
        assert job is not None and job == await current(store, job.id)
        assert (job.status, job.progress_pct, job.version) == (Status.COMPLETED, 100, 3)
        assert (job.finished_at, job.expires_at) == (at(10), at(10 + RETENTION))
        assert (job.lease_token, job.lease_expires_at, job.error) == (None, None, None)
        assert await event_kinds(store, job.id) == [(1, "status"), (2, "status"), (3, "completed")]
    assert done[0] is not None and done[0].result == {"rows": 3}
    assert done[1] is not None and (done[1].result, done[1].result_ref) == (None, ref)
    assert await store.complete_jobs([Completion(lease_of(a))], at(11), RETENTION) == [None]
    assert await store.complete_jobs([], at(11), RETENTION) == []


async def test_complete_takes_a_last_step_or_keeps_the_stored_one(store: Store) -> None:
    await submit(store)
    await submit(store)
    a, b = await claim(store, 2)
    for job in (a, b):
        await store.set_progress([ProgressUpdate(lease_of(job), 90, "writing")], at(5))
    done = await store.complete_jobs(
        [Completion(lease_of(a), step="done"), Completion(lease_of(b))], at(10), RETENTION
    )
    assert [(j.step if j else None) for j in done] == ["done", "writing"]


async def test_fail_with_retry_requeues_without_error(store: Store) -> None:
    await submit(store, max_attempts=3)
    job = await claim_one(store)
    await store.set_progress([ProgressUpdate(lease_of(job), 30, "half")], at(1))
    [retried] = await store.fail_jobs(
        [Failure(lease_of(job), ERROR, retry_at=at(60))], at(2), RETENTION
    )
    assert retried is not None and retried == await current(store, job.id)
    assert (retried.status, retried.run_at, retried.error, retried.attempt) == (
        Status.QUEUED,
        at(60),
        None,
        1,
    )
    assert (retried.lease_token, retried.lease_expires_at, retried.worker_id) == (None, None, None)
    assert (retried.finished_at, retried.expires_at) == (None, None)
    assert await claim(store, 1, at(59)) == []
    again = await claim_one(store, at(60))
    assert (again.attempt, again.progress_pct, again.step) == (2, 0, None)


async def test_final_failure_stores_the_error(store: Store) -> None:
    await submit(store)
    job = await claim_one(store)
    [failed] = await store.fail_jobs([Failure(lease_of(job), ERROR)], at(5), RETENTION)
    assert failed is not None and failed == await current(store, job.id)
    assert (failed.status, failed.error, failed.version) == (Status.FAILED, ERROR, 3)
    assert (failed.finished_at, failed.expires_at) == (at(5), at(5 + RETENTION))
    assert failed.lease_token is None
    assert (await event_kinds(store, job.id))[-1] == (3, "failed")


async def test_cancel_running_ends_cancelled(store: Store) -> None:
    await submit(store)
    job = await claim_one(store)
    requested = await store.request_cancel(job.id, at(1), RETENTION)
    assert requested is not None and requested.job.cancel_requested
    assert requested.outcome is CancelOutcome.REQUESTED
    [ended] = await store.cancel_jobs([lease_of(job)], at(2), RETENTION)
    assert ended is not None and ended == await current(store, job.id)
    assert (ended.status, ended.finished_at, ended.expires_at) == (
        Status.CANCELLED,
        at(2),
        at(2 + RETENTION),
    )
    assert ended.lease_token is None
    assert await event_kinds(store, job.id) == [
        (1, "status"),
        (2, "status"),
        (3, "status"),
        (4, "cancelled"),
    ]


async def test_release_gives_the_job_back_without_using_an_attempt(store: Store) -> None:
    await submit(store)
    job = await claim_one(store)
    await store.set_progress([ProgressUpdate(lease_of(job), 50, "busy")], at(1))
    (released,) = await store.release_jobs([lease_of(job)], at(5))
    assert released is not None and released == await current(store, job.id)
    assert (released.status, released.run_at, released.attempt) == (Status.QUEUED, at(5), 0)
    assert (released.progress_pct, released.step, released.lease_token) == (0, None, None)
    assert released.worker_id is None
    assert (await claim_one(store, at(5))).attempt == 1
    assert await store.release_jobs([], at(6)) == []


async def test_request_cancel_on_each_status(store: Store) -> None:
    queued = await submit(store)
    answer = await store.request_cancel(queued.id, at(1), RETENTION)
    assert answer is not None and answer.outcome is CancelOutcome.CANCELLED
    cancelled = answer.job
    assert cancelled == await current(store, queued.id)
    assert (cancelled.status, cancelled.version) == (Status.CANCELLED, 2)
    assert (cancelled.finished_at, cancelled.expires_at) == (at(1), at(1 + RETENTION))
    assert await event_kinds(store, queued.id) == [(1, "status"), (2, "cancelled")]

    await submit(store)
    running = await claim_one(store, at(2))
    answer = await store.request_cancel(running.id, at(3), RETENTION)
    assert answer is not None and answer.outcome is CancelOutcome.REQUESTED
    requested = answer.job
    assert (requested.status, requested.cancel_requested) == (Status.PROCESSING, True)
    assert (requested.version, requested.updated_at) == (3, at(3))
    assert (await event_kinds(store, running.id))[-1] == (3, "status")
    repeat = await store.request_cancel(running.id, at(4), RETENTION)
    # Already requested: unchanged, and still the answer for a processing job.
    assert repeat == CancelResult(requested, CancelOutcome.REQUESTED)

    terminal = await store.request_cancel(queued.id, at(5), RETENTION)
    assert terminal == CancelResult(cancelled, CancelOutcome.FINISHED)
    assert (
        await store.request_cancel("00000000-0000-4000-8000-000000000000", at(5), RETENTION) is None
    )


async def test_rescue_requeues_a_lost_run(store: Store) -> None:
    await submit(store, max_attempts=3)
    job = await claim_one(store, T0)
    retry = RetryPolicy(base_seconds=5)
    params = RescueParams(now=at(30), retention_seconds=RETENTION, retry=retry)
    assert await store.rescue_expired(params) == []  # lease ends at 30: not before now
    (rescued,) = await store.rescue_expired(
        RescueParams(now=at(31), retention_seconds=RETENTION, retry=retry)
    )
    assert rescued == await current(store, job.id)
    assert (rescued.status, rescued.attempt) == (Status.QUEUED, 1)
    # The retry policy's backoff after attempt 1: up to its base, with full jitter.
    assert at(31) <= rescued.run_at <= at(36)
    assert (rescued.lease_token, rescued.worker_id, rescued.error) == (None, None, None)
    assert rescued.version == 3
    assert (await claim_one(store, at(36))).attempt == 2


async def test_rescue_fails_a_job_out_of_attempts(store: Store) -> None:
    await submit(store, max_attempts=2)
    await claim_one(store, T0)
    await store.rescue_expired(RescueParams(now=at(31), retention_seconds=RETENTION))
    job = await claim_one(store, at(31))
    (failed,) = await store.rescue_expired(RescueParams(now=at(62), retention_seconds=RETENTION))
    assert failed == await current(store, job.id)
    assert (failed.status, failed.attempt, failed.error) == (Status.FAILED, 2, worker_lost_error(2))
    assert (failed.finished_at, failed.expires_at) == (at(62), at(62 + RETENTION))
    assert (await event_kinds(store, job.id))[-1] == (failed.version, "failed")


async def test_rescue_cancels_a_job_whose_cancel_was_requested(store: Store) -> None:
    await submit(store, max_attempts=5)
    job = await claim_one(store, T0)
    await store.request_cancel(job.id, at(1), RETENTION)
    (cancelled,) = await store.rescue_expired(RescueParams(now=at(31), retention_seconds=RETENTION))
    assert (cancelled.status, cancelled.finished_at) == (Status.CANCELLED, at(31))
    assert cancelled.error is None


async def test_rescue_respects_its_limit(store: Store) -> None:
    for _ in range(3):
        await submit(store)
    await claim(store, 3)
    params = RescueParams(now=at(31), retention_seconds=RETENTION, limit=2)
    assert len(await store.rescue_expired(params)) == 2
    assert len(await store.rescue_expired(params)) == 1
    assert await store.rescue_expired(params) == []


async def test_delete_only_removes_terminal_jobs(store: Store) -> None:
    active = await submit(store)
    assert await store.delete_job(active.id) == DeleteResult(active, deleted=False)
    assert await current(store, active.id) == active

    cancel = await store.request_cancel(active.id, at(1), RETENTION)
    assert cancel is not None
    assert await store.delete_job(active.id) == DeleteResult(cancel.job, deleted=True)
    assert await store.get_job(active.id) is None
    assert await store.events_after(active.id, 0) == []
    assert await store.get_tombstone(active.id, at(2)) is None
    assert await store.delete_job(active.id) is None


async def test_versions_rise_by_one_with_one_event_each(store: Store) -> None:
    await submit(store, max_attempts=3)
    job = await claim_one(store, T0)
    lease = lease_of(job)
    await store.set_progress([ProgressUpdate(lease, 10, "a")], at(1))
    await store.heartbeat([lease], 30, at(2))
    await store.fail_jobs([Failure(lease, ERROR, retry_at=at(3))], at(2), RETENTION)
    job = await claim_one(store, at(3))
    await store.request_cancel(job.id, at(4), RETENTION)
    await store.set_progress([ProgressUpdate(lease_of(job), 20, None)], at(5))
    await store.complete_jobs([Completion(lease_of(job), result=None)], at(6), RETENTION)

    events = await store.events_after(job.id, 0)
    assert [e.version for e in events] == list(range(1, 9))
    assert [e.kind for e in events] == [
        "status",  # submitted
        "status",  # claimed
        "progress",
        "status",  # retry: back to queued
        "status",  # claimed again
        "status",  # cancel requested
        "progress",
        "completed",
    ]
    final = await current(store, job.id)
    assert final.version == 8
    assert [e.version for e in await store.events_after(job.id, 5)] == [6, 7, 8]
    assert [(e.kind, e.status) for e in await store.events_after(job.id, 7)] == [
        ("completed", Status.COMPLETED)
    ]
    assert [e.attempt for e in await store.events_after(job.id, 0)] == [0, 1, 1, 1, 2, 2, 2, 2]


async def test_recent_durations_newest_first(store: Store) -> None:
    for started, took in [(0, 5.0), (10, 2.5), (20, 7.25)]:
        await submit(store, operation="report")
        job = await claim_one(store, at(started))
        await store.complete_jobs([Completion(lease_of(job))], at(started + took), RETENTION)
    await submit(store, operation="report")
    failing = await claim_one(store, at(40))
    await store.fail_jobs([Failure(lease_of(failing), ERROR)], at(41), RETENTION)
    await submit(store, operation="other")
    other = await claim_one(store, at(50))
    await store.complete_jobs([Completion(lease_of(other))], at(51), RETENTION)

    assert await store.recent_durations("report") == [7.25, 2.5, 5.0]
    assert await store.recent_durations("report", limit=2) == [7.25, 2.5]
    assert await store.recent_durations("missing") == []


async def test_jobs_with_events_is_events_after_and_get_job_per_job_in_one(
    store: Store,
) -> None:
    job = await submit(store)
    other = await submit(store, operation="other")
    running = await claim_one(store, at(1), operations=[job.operation])
    await store.set_progress([ProgressUpdate(lease_of(running), 40, "half")], at(2))
    assert await store.jobs_with_events([]) == []
    answers = await store.jobs_with_events(
        [(job.id, 1), ("no-such-job", 0), (other.id, 0), (job.id, 3), (job.id, 2**62)]
    )
    now_job, now_other = await store.get_job(job.id), await store.get_job(other.id)
    assert answers == [
        (now_job, await store.events_after(job.id, 1)),
        (None, []),
        (now_other, await store.events_after(other.id, 0)),
        (now_job, []),
        (now_job, []),
    ]
    assert [e.version for e in answers[0][1]] == [2, 3]
    assert answers[0][1][1].at == at(2) and answers[0][1][1].step == "half"
    assert [e.version for e in answers[2][1]] == [1]


async def test_a_retry_of_a_job_whose_cancel_was_requested_ends_it_cancelled(
    store: Store,
) -> None:
    """The attempt failed (retryably) after its cancel was requested: running the job
    again would ignore the cancel, so the retry ends it `cancelled`, as a rescue would."""
    job = await submit(store)
    running = await claim_one(store, at(1))
    await store.request_cancel(job.id, at(2), RETENTION)
    error = ErrorDetail("https://example.com/problems/x", "X", "x", "x", True, 1)
    failure = Failure(lease_of(running), error, retry_at=at(5))
    [ended] = await store.fail_jobs([failure], at(3), RETENTION)
    assert ended is not None
    assert (ended.status, ended.cancel_requested, ended.error) == (Status.CANCELLED, True, None)
    assert ended.finished_at == at(3) and ended.expires_at is not None
    assert await current(store, job.id) == ended
    [event] = await store.events_after(job.id, ended.version - 1)
    assert (event.kind, event.status) == ("cancelled", Status.CANCELLED)
    assert await store.claim_jobs(ClaimParams("w2", 10, 30, at(6))) == []
