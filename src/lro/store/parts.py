"""The protocols of a store's parts: the webhook outbox, the abuse-limit counters, result
blobs, the worker registry and (where a backend has them) direct hand-off, batches and
schedules. `Store` exposes each as a property, on the same database and connections as
the jobs.

Like `Store`'s verbs, each method says what it writes, so a new backend can implement it
from these docstrings alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from lro.deliveries import AttemptRecord, Delivery
from lro.models import Job, NewJob
from lro.store.types import (
    Batch,
    BatchInserted,
    BatchPage,
    BatchQuery,
    BlobInfo,
    ClaimParams,
    Firing,
    HandoffSubscription,
    LimitedOperation,
    LimitUsage,
    NewBatch,
    Schedule,
    WorkerInfo,
)


class Outbox(Protocol):
    """Webhook deliveries. Safe for many dispatchers in many processes: a claim takes due
    deliveries exclusively and leases them until `lease_until`.

    Delivery rows are created by the job verbs, never here: see "Deliveries" in the
    `lro.store.base` docstring. A delivery row holds `id` (`msg_` + 32 hex digits, the
    webhook-id), `job_id`, `event_type`, `url`, `event_at`, `status` (pending, delivered,
    failed), `attempts`, `next_attempt_at`, `created_at`, `delivered_at`,
    `last_status_code`, `last_error`, `manual` and `target`; an attempt row holds
    `(delivery_id, attempt)`, `at`, `status_code`, `duration_ms` and `error`. Both go
    with their job (`Store.delete_job`, `Store.sweep`).
    """

    async def claim_deliveries(
        self, now: datetime, lease_until: datetime, limit: int, skip: Sequence[str] = ()
    ) -> list[Delivery]:
        """Take up to `limit` due pending deliveries (`next_attempt_at <= now`), oldest
        due first, none to a target in `skip`, returned in (created_at, id) order.

        Writes, per delivery taken: `attempts + 1` (the number its outcome must quote),
        and `next_attempt_at = in_flight_until = lease_until`, so a dispatcher that dies
        mid-send only delays it and a manual retry meanwhile starts no second send.
        Concurrent claimers take disjoint deliveries. `defer_deliveries` and
        `record_attempt` clear `in_flight_until`."""

    async def defer_deliveries(self, claimed: Sequence[Delivery], until: datetime) -> None:
        """Give claimed deliveries back unsent (their target is busy).

        Writes, per delivery still pending at the claim's attempt number (a fence):
        `attempts - 1` and `next_attempt_at = until`. Others are left alone."""

    async def record_attempt(self, record: AttemptRecord) -> bool:
        """Store an attempt's outcome, fenced: False (and nothing written) unless the
        delivery is still pending at `record.attempt`, or that attempt is already
        recorded.

        Writes: the delivery's `status`, `next_attempt_at`, `last_status_code`,
        `last_error`, `manual = false`, and `delivered_at = record.at` when delivered;
        one attempt row. Both or neither."""

    async def list_deliveries(self, job_id: str) -> list[Delivery]:
        """A job's deliveries, oldest first, each with its attempt history. Writes
        nothing."""

    async def retry_delivery(self, job_id: str, delivery_id: str, now: datetime) -> Delivery | None:
        """Make a delivery due now; None when the job has no such delivery.

        Writes: `status = pending`, `next_attempt_at = now`, and `manual = true` when it
        had ended (delivered or failed: it gets one more attempt). Writes nothing while an
        attempt is in flight (claimed, `in_flight_until` not passed): that attempt is the
        retry, and the delivery is returned as it is, so sends never overlap."""

    async def shared_setting(self, key: str, default: str) -> str:
        """The value every process agrees on. Writes the settings row `(key, default)`
        when none exists yet, and returns the stored value."""

    async def pending_deliveries(self) -> int:
        """How many deliveries are still to be sent or retried (for /metrics). Writes
        nothing."""


class Quotas(Protocol):
    """The counters behind per-principal quotas (api/quotas.py): submit-rate buckets and
    active-job counts, shared by every process on one database."""

    async def take_tokens(
        self, key: str, *, rate: float, burst: float, cost: float, now: datetime
    ) -> float:
        """Token bucket `key` (refilled at `rate` per second up to `burst`): take `cost`
        tokens and return 0.0, or take nothing and return the seconds until they exist
        (`rules.wait_seconds`).

        Writes: the bucket row `(key, tokens, at)`, inserted full minus `cost` on first
        use, or refilled for the time since `at` and reduced by `cost`, `at = max(at,
        now)`. A refused take writes nothing. Concurrent takers queue on the row."""

    async def tokens_left(self, key: str, *, rate: float, burst: float, now: datetime) -> float:
        """Bucket `key`'s balance at `now` (refilled up to `burst`; `burst` for a bucket
        never used): what the RateLimit field reports. Writes nothing."""

    async def active_jobs(self, owner: str) -> int:
        """How many of `owner`'s jobs are queued or processing (0 for the anonymous owner
        "", which is never capped: its index leaves it out). Writes nothing."""


class Blobs(Protocol):
    """Result files kept in the job store itself (`LRO_RESULT_STORE=db`), so API and worker
    processes that share no disk still share results. A blob is named by its job and a key
    (`lro.results` puts the writing attempt in the key, so attempts never share a blob).

    Rows, per backend (SQLite: `result_blobs`, `result_chunks`; PostgreSQL: `lro_`-prefixed;
    a Redis backend: one hash per blob and one string per chunk under the job's keys):

    * `write_chunk` upserts one chunk row `(job_id, key, index) -> data`, in a transaction
      of its own, so a file of any size is written without holding it, or one long
      transaction, in memory. Nothing is written (False) when the job does not exist.
    * `finish` upserts the one blob row `(job_id, key) -> size, chunk_bytes, created_at`
      after the last chunk: until then readers do not see the blob (`info` is None).
    * `info` and `read_chunks` write nothing; `read_chunks` returns chunk rows by index,
      so a range is served without loading the whole blob.
    * `delete` removes one blob's rows; `delete_job` every blob of the job but `keep`.
    * Deleting a job (`Store.delete_job`, `Store.sweep`) removes its blob and chunk rows
      in the same transaction (a foreign key with ON DELETE CASCADE, or a trigger), and a
      chunk can never be written for a job that is gone, so no blob outlives its job.

    Every chunk of a blob but the last holds exactly `chunk_bytes` bytes.
    """

    async def write_chunk(self, job_id: str, key: str, index: int, data: bytes) -> bool:
        """Store chunk `index` (0-based) of blob `key`, replacing a chunk already stored
        under that index; False (nothing stored) when the job does not exist."""

    async def finish(
        self, job_id: str, key: str, size: int, chunk_bytes: int, now: datetime
    ) -> bool:
        """Mark the blob complete: `size` bytes in chunks of `chunk_bytes`. False when
        the job does not exist."""

    async def info(self, job_id: str, key: str) -> BlobInfo | None:
        """The finished blob's size and chunking; None when absent or unfinished."""

    async def read_chunks(self, job_id: str, key: str, first: int, count: int) -> list[bytes]:
        """Chunks `first .. first + count - 1` in order; fewer when some are missing
        (past the end, or the blob was deleted meanwhile)."""

    async def delete(self, job_id: str, key: str) -> None:
        """Remove one blob (finished or not) and its chunks. Idempotent."""

    async def delete_job(self, job_id: str, keep: str | None = None) -> None:
        """Remove every blob of the job, finished or not, except the one named `keep`."""


class Workers(Protocol):
    """The worker registry (HTTP-CONTRACT §18): every running worker process heart-beats
    its row, so any API process can list the live ones. A store without a registry has
    `workers = None`.

    Rows: one per worker `(worker_id, host, pid, queues, operations, concurrency, busy,
    started_at, last_seen_at)`, the fields of `WorkerInfo`. Nothing else reads or writes
    them: a worker's liveness is its `last_seen_at`, never a job's lease."""

    async def beat(self, worker: WorkerInfo) -> None:
        """Upsert the worker's row with every field of `worker` (last_seen_at included)."""

    async def live(self, seen_after: datetime) -> list[WorkerInfo]:
        """Workers whose `last_seen_at > seen_after`, by started_at then worker_id.
        Writes nothing."""

    async def remove(self, worker_id: str) -> None:
        """Delete the worker's row (it stopped). Idempotent."""

    async def prune(self, seen_before: datetime) -> int:
        """Delete rows with `last_seen_at < seen_before` (dead workers); how many."""


class Handoffs(Protocol):
    """Direct hand-off of a new job to a parked idle worker, skipping its claim (the
    PostgreSQL and Redis stores have it: across processes a claim costs a second round
    trip; see lro.store.postgres.handoff and lro.store.redis.handoff). A store without it
    has `handoffs = None`.

    Rows: one park per parked worker `(worker_id, liveness key, operations,
    lease_seconds, parked_at)`, written by `claim_or_park` and deleted by `unpark` or by
    the submit that takes it (`Store.insert_jobs`)."""

    def subscribe(self, worker_id: str, sub: HandoffSubscription) -> Callable[[], None]:
        """Route this worker's hand-offs to `sub`; returns the unsubscribe function."""

    async def claim_or_park(self, params: ClaimParams) -> tuple[list[Job], bool]:
        """Claim as `Store.claim_jobs` does (the same writes); when the claim comes back
        short, also upsert the worker's park row, atomically with the claim. The flag
        says whether it is now parked (False when the store cannot deliver a hand-off
        now)."""

    async def unpark(self, worker_id: str) -> bool:
        """Delete the worker's park row; False when a hand-off already took it."""

    async def orphaned(self, worker_id: str, known_tokens: Sequence[str]) -> list[Job]:
        """Jobs leased to the worker under tokens it does not hold (lost hand-offs).
        Writes nothing."""


class Workload(Protocol):
    """Workload control in the claim (HTTP-CONTRACT §13; lro.limits says what is declared).
    A store without it has `workload = None`, and the LRO refuses limits at start-up.

    A job of a limited operation is inserted with a `concurrency_key` (`NewJob`): its
    key's value, the principal for `fair` without a key, or "" for one key per
    operation. `Store.claim_jobs` never takes such a job; only `claim_limited` does, and
    it enforces, in one transaction per claim, whatever processes and machines share
    the store:

    * `concurrency`: at most N of the operation's keyed jobs `processing` at once;
    * `key_concurrency`: at most K `processing` per (operation, key);
    * `rate_limit` N per P seconds: at most N claims of the operation with `now` in any
      window (now - P, now] (sliding, by the claimers' `now`);
    * `fair`: keys take turns: each claim orders the ready keys least recently served
      first and takes one job per key per round; without `fair`, the jobs of the keys
      it considers are taken by priority, then run_at, then insert order.

    Within a key, jobs always go by priority, then run_at, then insert order. A job held
    back stays `queued`, untouched. Slots are counted from the jobs' own status, so a
    job that completes, fails, is cancelled, times out, is released or is rescued gives
    its slot back in the transaction that changes its status.

    Rows (SQLite: `limit_keys`, `limit_starts`; PostgreSQL `lro_limit_keys`,
    `lro_limit_deltas`, `lro_limit_starts`): per (operation, key) with queued or
    running jobs, their counts and when the key was last served, kept by triggers on
    the job rows (PostgreSQL: an append-only delta log folded by the next claim, so no
    job write ever waits on a counter row); per rate-limited claim, `(operation, at,
    n)`, dropped once older than the period.
    """

    async def claim_limited(
        self, params: ClaimParams, operations: Sequence[LimitedOperation]
    ) -> list[Job]:
        """Claim up to `params.limit` due, queued jobs of these operations within their
        limits (`params.operations` is ignored), with the writes of `Store.claim_jobs`
        per job, and for a rate-limited operation one start row; also moves each served
        key's turn. Returned in claim order per operation."""

    async def adopt(self, operation: str, *, limited: bool) -> int:
        """Make the operation's queued jobs match how it is declared now, after its
        limits were added or removed: `limited` gives key-less ones the key "" (then
        only `claim_limited` takes them), otherwise keyed ones lose their key (then
        `Store.claim_jobs` does). Writes only `concurrency_key` (no version, no event:
        bookkeeping) and the counts that follow; returns how many jobs changed."""

    async def queued_count(self, operation: str, cap: int) -> int:
        """How many of the operation's jobs are queued, counting no further than `cap`
        (the depth check at submit stays cheap however deep the queue). Writes nothing."""

    async def oldest_queued(self, owner: str | None, now: datetime) -> dict[str, datetime]:
        """Per operation, when the owner's (None: anyone's) oldest due, queued job became
        due; operations with none are absent. Writes nothing."""

    async def usage(
        self, operations: Sequence[LimitedOperation], now: datetime
    ) -> list[LimitUsage]:
        """Per operation, in the order given: its keyed `processing` jobs, and its due
        (`run_at <= now`), queued keyed jobs that `claim_limited` at `now` would not give
        out, by the first limit that holds them (`rules.held_back`, fed the per-key due
        and running counts and the rate window's claims as the claim reads them; the
        window is read, never pruned). Reads the limited indexes, never other jobs.
        Writes nothing."""


class Batches(Protocol):
    """Batches of jobs submitted together (HTTP-CONTRACT §17). A store without them has
    `batches = None`, and the API answers their routes with a 501 problem.

    Rows: one batch row `(id, owner, total, unfinished, callback_url, callback_target,
    created_at, finished_at, expires_at, idempotency_key, request_fingerprint,
    idempotency_expires_at)`, and each of its jobs carries `batch_id`. Whenever one of
    its jobs becomes terminal, by whichever verb, the same transaction decrements
    `unfinished`; the change that brings it to 0 sets `finished_at = the job's
    updated_at`, `expires_at = the job's expires_at` and, when the batch has a
    `callback_url`, writes one delivery `(event_type = "batch.completed", job_id = that
    job, url = the batch's callback_url, target = its callback_target or "")`, sent
    through the outbox like every webhook (its payload is the batch resource). A job
    that becomes active again (a retry) increments it and clears both times. (SQL
    backends do this with triggers on the job row; see their schema.sql.)
    """

    async def insert_batch(self, batch: NewBatch, now: datetime) -> BatchInserted:
        """Insert the batch row and every job, in one transaction: all or nothing.

        Writes: the batch row (`total = unfinished = len(jobs)`, `created_at = now`);
        per job what `Store.insert_jobs` writes for a created job (never a hand-off).

        Idempotency as `Store.insert_jobs`, on the batch's (owner, key): a live key with
        the same fingerprint writes nothing and answers the existing batch and jobs
        (`created=False`); another fingerprint raises KeyReused; a stale key (its window
        passed, or the batch expired) is released and taken by the new batch. Concurrent
        duplicates make one batch (a unique index decides)."""

    async def get_batch(self, batch_id: str) -> Batch | None:
        """The batch with its counts, whoever owns it; None when there is none. Writes
        nothing."""

    async def batch_jobs(self, batch_id: str) -> list[Job]:
        """The batch's jobs still stored, in the order they were submitted. Writes
        nothing."""

    async def list_batches(self, query: BatchQuery, now: datetime) -> BatchPage:
        """The owner's batches (every owner's when `query.owner` is None), newest first
        (`created_at`, then id, descending), each with its counts as `get_batch` gives
        them; expired ones (`expires_at <= now`) left out. Keyset-paged: `next_cursor`
        is None on the last page; a malformed cursor raises ValueError. Writes nothing."""

    async def count_batches(self) -> dict[str, int]:
        """How many batch rows are `open` (`unfinished > 0`) and `finished` (0), both
        keys always present; every owner's. Writes nothing."""

    async def sweep_batches(self, now: datetime, limit: int) -> int:
        """Delete up to `limit` batch rows whose `expires_at <= now` (their last job's
        retention), and return how many. Their jobs go by `Store.sweep` as usual."""


class Schedules(Protocol):
    """Schedules (HTTP-CONTRACT §16). A store without them has `schedules = None`.

    Rows: one schedule row per (owner, id) with the `Schedule` fields; one firing row
    `(owner, schedule_id, due_at, job_id)` per firing that made a job, unique on
    (owner, schedule_id, due_at): the firing's identity, so however many processes fire
    a due time at once, one job is made. Callers compute `next_run_at` (lro.timing); the
    store never reads the clock."""

    async def put_schedule(self, schedule: Schedule, *, create: bool) -> Schedule | None:
        """Store `schedule`. `create=True`: insert it, or None (nothing written) when the
        owner has one of that id. `create=False`: insert or replace its declared fields
        and `next_run_at`, keeping `created_at`, `last_run_at` and `last_job_id`."""

    async def get_schedule(self, owner: str, schedule_id: str) -> Schedule | None:
        """Writes nothing."""

    async def list_schedules(self, owner: str | None) -> list[Schedule]:
        """The owner's schedules (None: everyone's) by id. Writes nothing."""

    async def delete_schedule(self, owner: str, schedule_id: str) -> bool:
        """Delete the schedule and its firing rows (its jobs stay); False when none."""

    async def due_schedules(self, now: datetime, limit: int) -> list[Schedule]:
        """Up to `limit` unpaused schedules with `next_run_at <= now`, oldest due first.
        Writes nothing."""

    async def fire(
        self, schedule: Schedule, next_run_at: datetime, job: NewJob, now: datetime
    ) -> Firing:
        """Fire `schedule` at its `next_run_at` (the due time), in one transaction, only if
        the stored schedule is still unpaused and due at that same time (a compare-and-set:
        another process that fired it first wins, and this writes nothing).

        Writes: `next_run_at = next_run_at`, `last_run_at = the due time`, `updated_at =
        now`; then, unless `overlap` is `skip` and the last job is still queued or
        processing, the job (as `Store.insert_jobs` writes a created one), a firing row
        and `last_job_id`."""

    async def trigger(self, schedule: Schedule, job: NewJob, now: datetime) -> Job | None:
        """Run the schedule now, paused or not: the job, a firing row at `now`,
        `last_run_at = now`, `last_job_id`. None when the schedule is gone."""
