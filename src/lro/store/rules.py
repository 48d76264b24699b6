"""Decisions every backend makes the same way, written once as pure functions.

A backend reads the rows a decision needs inside its transaction, asks the rule here, and
writes what the rule says, so the rule cannot drift between SQLite, PostgreSQL and the
next backend:

* `idempotent_replay`: a submit whose idempotency key is already held.
* `rescue_of`: a job whose worker stopped renewing its lease (with `lro.retry`'s
  `after_lost_lease` and the caller's `RetryPolicy`, the same backoff the worker uses).
* `wait_seconds`: how long a token bucket that refused a take needs to refill.
* `workers_seen_after`: when a registered worker counts as dead.
* `held_back`: which due, queued jobs of a limited operation the claim would not give
  out now, and why (the claim's own arithmetic, read without claiming).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lro.errors import KeyReused
from lro.models import ErrorDetail, Inserted, Job, NewJob, Status
from lro.retry import LostLease, RetryPolicy, after_lost_lease
from lro.store.types import LimitedOperation, LimitUsage

WORKER_LOST_TYPE = "https://lro.dev/problems/worker-lost"


def worker_lost_error(attempts: int) -> ErrorDetail:
    """The error a job ends with when its worker vanished on every allowed attempt."""
    return ErrorDetail(
        type=WORKER_LOST_TYPE,
        title="The worker running this job was lost",
        detail=(
            f"The worker running this job stopped responding (killed, crashed or cut off) "
            f"on each of {attempts} attempt(s), so the job was given up. If the job is "
            f"heavy, it may be exhausting the worker's memory or time; submit it again "
            f"with smaller input or raise the operation's limits."
        ),
        code="worker_lost",
        retryable=True,
        attempts=attempts,
    )


def idempotent_replay(
    holder: Job, key_expires_at: datetime | None, new: NewJob, now: datetime
) -> Inserted | None:
    """The answer to `new` when `holder` already has its (owner, idempotency key).

    A key counts while its own window is open and its job has neither expired nor been
    deleted. A live key answers with the holder (a replay, `created=False`) when the
    request fingerprints match, and raises KeyReused when they differ: the same key for a
    different request is a client error, and raising inside the transaction rolls the
    whole batch back. None: the key is stale, so the store releases it from the holder
    (bookkeeping: no version, no event) and inserts `new` under it.
    """
    key_live = key_expires_at is None or key_expires_at > now
    job_live = holder.expires_at is None or holder.expires_at > now
    if not (key_live and job_live):
        return None
    if holder.request_fingerprint != new.request_fingerprint:
        raise KeyReused(holder.id)
    return Inserted(holder, created=False, accepted=holder)


@dataclass(frozen=True, slots=True)
class Rescue:
    """What a store writes for one job whose lease expired (see `rescue_of`)."""

    status: Status
    """QUEUED (another attempt), FAILED (attempts used up) or CANCELLED (was requested)."""
    run_at: datetime | None = None
    """QUEUED: when the next attempt may start."""
    error: ErrorDetail | None = None
    """FAILED: `worker_lost_error(attempt)`."""


def rescue_of(
    *,
    operation: str,
    attempt: int,
    max_attempts: int,
    cancel_requested: bool,
    now: datetime,
    retry: RetryPolicy,
) -> Rescue:
    """The lost run counts as an attempt (`after_lost_lease`); a job that goes back to the
    queue waits the operation's own backoff, as it would after a failed attempt."""
    match after_lost_lease(attempt, max_attempts, cancel_requested):
        case LostLease.CANCEL:
            return Rescue(Status.CANCELLED)
        case LostLease.FAIL:
            return Rescue(Status.FAILED, error=worker_lost_error(attempt))
        case LostLease.RETRY:
            return Rescue(Status.QUEUED, run_at=retry.next_attempt_at(now, operation, attempt))


def wait_seconds(available: float | None, *, rate: float, burst: float, cost: float) -> float:
    """Seconds until `cost` tokens exist, given `available` now (None: a bucket never used,
    which is full). At least a millisecond, so a denial never reads as a grant."""
    have = burst if available is None else available
    if rate <= 0:
        return float("inf")
    return max((cost - have) / rate, 0.001)


def workers_seen_after(now: datetime, lease_seconds: float) -> datetime:
    """The worker registry's cutoff (HTTP-CONTRACT §18): a worker last seen at or before
    it is dead. Workers beat every lease/3, so a live one is never near it, and a killed
    one drops out within 2 x the lease of its last beat."""
    return now - timedelta(seconds=2 * lease_seconds)


def held_back(
    spec: LimitedOperation,
    due: dict[str, int],
    running: dict[str, int],
    started: int,
) -> LimitUsage:
    """The claim's arithmetic applied to every due job at once: `due` and `running` are
    the operation's keyed `queued`-and-due and `processing` jobs per key, `started` its
    claims in the rate window (now - P, now]. A key offers at most its free slots (the
    rest are held by `key`); of what the keys offer, the free share of `concurrency`
    passes (the rest: `concurrency`); of that, the free share of the window (the rest:
    `rate`). The claim's per-call batch size and rounds are not limits: they are left
    out, so `due - held` is what claims would start now, however many it takes."""
    in_use = sum(running.values())
    offered = 0
    for key, n in due.items():
        if spec.key_concurrency is None:
            offered += n
        else:
            offered += min(n, max(0, spec.key_concurrency - running.get(key, 0)))
    passed = offered
    if spec.concurrency is not None:
        passed = min(passed, max(0, spec.concurrency - in_use))
    started_now = passed
    if spec.rate_limit is not None:
        started_now = min(passed, max(0, spec.rate_limit - started))
    return LimitUsage(
        operation=spec.operation,
        slots_in_use=in_use,
        held_key=sum(due.values()) - offered,
        held_concurrency=offered - passed,
        held_rate=passed - started_now,
    )
