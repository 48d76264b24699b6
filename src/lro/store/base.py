"""The Store protocol: the job table is the queue, and these are its lifecycle verbs.

Every backend implements this and passes the one contract suite in tests/contract, so
behaviour cannot drift between them. Each verb's docstring lists exactly what it writes,
so a new backend can be written from this file (and `parts.py`) without reading another
backend's SQL or triggers. Rules every method follows:

* Each method is one transaction: a job's status, progress, lease, result, error, event
  and deliveries change together or not at all. Batch methods are one transaction for
  the whole batch.
* Callers pass `now`; the store never reads the clock for job timestamps (tests move time
  by passing a later `now`).
* Every write made on behalf of a running attempt is *fenced* by its `Lease` token: only
  a `processing` job whose current token is the lease's is written. Otherwise (the lease
  expired and another worker took it, or it was released) nothing is written and the
  answer says so (None / False / alive=False). The fenced worker verbs all take a batch
  and answer per item, in order: `heartbeat`, `set_progress`, `complete_jobs`,
  `fail_jobs`, `cancel_jobs`, `release_jobs`.

What the verbs write, in the words used below:

* **The job row** holds every `Job` field plus `idempotency_expires_at`,
  `callback_progress` (also send progress webhooks) and `callback_target` (host and port
  of `callback_url`, from `lro.deliveries.target_of`). "Lease cleared" means
  `lease_token` and `lease_expires_at` become NULL. "version + 1" is how every change is
  counted: a version moves by exactly one per committed change, assigned under the row's
  lock, so per-job versions are in commit order.
* **An event** is one row `(job_id, version, kind, status, progress_pct, step, attempt,
  cancel_requested, at)` copied from the job row as the change left it, `at = now`,
  written in the same transaction for every version + 1 and for nothing else. `kind`
  is `status`, `progress`, `completed`, `failed` or `cancelled`, or `partial` for a
  partial result (`lro.store.steps.Steps.append_partials`); `cancel_requested` is
  true only on the change that requested cancellation. (SQLite writes events with
  triggers on the job row; PostgreSQL with a CTE of each statement. Either way: one per
  version.)
* **A delivery** (webhook outbox, see `parts.Outbox`) is a pending row `(id = "msg_" +
  32 hex digits, job_id, event_type = "job.<status>", url = callback_url, event_at =
  next_attempt_at = created_at = the job's updated_at, attempts 0, target =
  callback_target or "")`. A job with a `callback_url` gets one whenever its status
  becomes `completed`, `failed` or `cancelled`, whichever verb does it. A job that also
  has `callback_progress` gets a `job.progress` delivery for a change that keeps it
  `processing` and moves its progress or step; while such a delivery is pending and
  not yet attempted, a later one only moves its `event_at` (progress coalesces).
  (Both backends write these with triggers on the job row; migrations 0002, 0004 and
  0005 define them, and each backend's `schema.sql` shows the final ones.)
* **Listeners**: after the commit the store calls its in-process listeners with one
  `JobChange(job_id, version, status, cancel_requested)` per changed job. Other
  processes hear of every event (SQLite: they poll the events table; PostgreSQL: a
  trigger on the events table sends NOTIFY on channel `lro_changes`), so a verb that
  writes an event needs no notification of its own.
* **Deleting a job** removes, in the same transaction, its row (and with it its
  idempotency key), its events, its deliveries and their attempts, and its result blobs
  and chunks (`parts.Blobs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from lro.models import (
    Completion,
    Failure,
    HeartbeatResult,
    Inserted,
    Job,
    Lease,
    ListQuery,
    NewJob,
    Page,
    ProgressUpdate,
    Swept,
    Tombstone,
)
from lro.store.parts import Batches, Blobs, Handoffs, Outbox, Quotas, Schedules, Workers, Workload
from lro.store.rules import WORKER_LOST_TYPE, worker_lost_error
from lro.store.steps import Steps
from lro.store.types import (
    Batch,
    BatchInserted,
    BlobInfo,
    CancelOutcome,
    CancelResult,
    ClaimParams,
    DeleteResult,
    HandoffSubscription,
    JobChange,
    JobCount,
    JobEvent,
    LimitedOperation,
    LimitUsage,
    Listener,
    NewBatch,
    RescueParams,
    Schedule,
    SweepParams,
    WorkerInfo,
)


@runtime_checkable
class Store(Protocol):
    """Async job store. See the module docstring for the rules and words used here."""

    supports_listen: bool
    """True when other processes' changes are pushed (LISTEN/NOTIFY) rather than polled."""

    supports_flows: bool
    """True when the backend keeps tags searchable (`ListQuery.tags`, `text`) and jobs'
    dependencies (`NewJob.depends_on`, released and failed by endings), as both SQL
    backends do (HTTP-CONTRACT §15, §17). Without it the API refuses those with a 501
    (read it with `lro.store.capabilities`, which takes a store lacking the attribute
    as one without)."""

    embedded: bool
    """True when the database is a file on this machine (SQLite): every process using it
    shares the machine's disk, so result files can stay in a local directory. A server
    database (PostgreSQL, Redis) is shared by machines that need not share a disk."""

    @property
    def handoffs(self) -> Handoffs | None:
        """Direct hand-off to parked workers, where the backend has it (see Handoffs)."""

    @property
    def outbox(self) -> Outbox:
        """Webhook deliveries, on the same database and connections."""

    @property
    def quotas(self) -> Quotas:
        """Rate-limit buckets and per-owner counts, on the same database."""

    @property
    def workload(self) -> Workload | None:
        """Limits enforced in the claim (see Workload); None where the backend has none."""

    @property
    def blobs(self) -> Blobs:
        """Result files stored in the database, in chunks (see Blobs)."""

    @property
    def steps(self) -> Steps | None:
        """Long jobs: steps, checkpoints, partials, retry (lro.store.steps); None where
        the backend does not have them yet (the API answers 501)."""

    @property
    def batches(self) -> Batches | None:
        """Jobs submitted together (see Batches); None where the backend has none."""

    @property
    def schedules(self) -> Schedules | None:
        """Recurring submits (see Schedules); None where the backend has none."""

    @property
    def workers(self) -> Workers | None:
        """The registry of live worker processes (see Workers); None where the backend
        keeps none."""

    async def open(self) -> None:
        """Connect and apply pending migrations (safe when many processes start at once).
        Raises SchemaTooNew when the database is ahead of this code, StoreUnavailable
        when it cannot be reached."""

    async def close(self) -> None:
        """Stop background listeners and close connections. Idempotent."""

    async def migrate(self) -> int:
        """Apply pending numbered migrations under a lock; return the schema version."""

    async def ping(self) -> None:
        """Raise StoreUnavailable unless a trivial query round-trips now."""

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Register a change listener (called on the event loop, must not block); returns
        a function that removes it."""

    # -- submit ---------------------------------------------------------------------
    async def insert_jobs(self, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        """Insert jobs as `queued`, in one transaction; one Inserted per NewJob, in order.

        Writes, per job created: the job row (the NewJob's fields, `queue` and
        `concurrency_key` included, `run_at = new.run_at or
        now`, `created_at = updated_at = now`, status `queued`, version 1, attempt 0,
        progress 0, the rest NULL); event (1, `status`); a listener change.

        Idempotency: a NewJob with `idempotency_key` is unique per (owner, key) among keys
        that are still live (`rules.idempotent_replay`: `idempotency_expires_at > now` and
        the owning job neither deleted nor expired). When a live key exists, nothing is
        written for that NewJob and its Inserted carries the existing job with
        `created=False`, provided the `request_fingerprint`s are equal; when they differ
        the store raises KeyReused and the whole batch is rolled back (nothing stored).
        A stale key is released from its holder (its `idempotency_key`,
        `request_fingerprint` and `idempotency_expires_at` become NULL: bookkeeping, no
        version, no event) and the new job takes it. The decision rests on a unique
        index, so concurrent duplicates from many processes make exactly one job; the
        loser reads the winner's row.

        Hand-off (only where `handoffs` is not None): a batch of one job without a
        `concurrency_key` (its limits are counted in the claim only), due now, of an
        operation a live parked worker runs, is stored already leased to the
        longest-parked such worker: as `claim_jobs` would leave it (version 2,
        `processing`, attempt 1, `lease_expires_at = now + the park's lease_seconds`),
        with events (1, `status`, queued) and (2, `status`, processing). The park row is
        deleted (a dead worker's too, whose job is then simply queued) and the worker is
        sent the row (see `lro.store.postgres.handoff`, `lro.store.redis.handoff`).

        `Inserted.job` is the row as stored; `Inserted.accepted` is what the submit's
        answer shows: the job as it was accepted (version 1, queued) for a hand-off, the
        stored row otherwise.
        """
        ...

    # -- read (these write nothing) ------------------------------------------------------
    async def get_job(self, job_id: str) -> Job | None:
        """The row as stored, whoever owns it and whether or not it has expired."""
        ...

    async def get_tombstone(self, job_id: str, now: datetime) -> Tombstone | None:
        """The tombstone of a swept job, if kept until after `now`."""
        ...

    async def list_jobs(self, query: ListQuery, now: datetime) -> Page:
        """The owner's unexpired jobs, newest first (created_at, then id), cursor-paginated.
        The cursor is opaque; a malformed cursor raises ValueError."""
        ...

    async def events_after(self, job_id: str, after_version: int) -> list[JobEvent]:
        """The job's events with version > after_version, oldest first."""
        ...

    async def jobs_with_events(
        self, wanted: Sequence[tuple[str, int]]
    ) -> list[tuple[Job | None, list[JobEvent]]]:
        """For each `(job_id, after_version)`, in order: `get_job` and the job's
        `events_after`, all in one round trip and one read snapshot (what the feeds of a
        burst of changes need). Each job is never older than its last event returned; a
        job that does not exist answers `(None, [])`."""
        ...

    async def recent_durations(self, operation: str, limit: int = 20) -> list[float]:
        """Run times (finished_at - started_at, seconds) of the latest completed jobs of
        this operation, newest first; feeds estimated_duration_seconds."""
        ...

    async def job_counts(self, owner: str | None, now: datetime) -> list[JobCount]:
        """The owner's (None: every owner's) unexpired jobs counted per operation and
        status, the same jobs `list_jobs` would show; ordered by operation, then status.
        Pairs with no job are left out."""
        ...

    async def oldest_queued(self, now: datetime) -> dict[str, datetime]:
        """Per operation, when its oldest due, queued job became due (run_at); operations
        with none are absent. For /metrics: how far the queue lags."""
        ...

    # -- worker ---------------------------------------------------------------------
    async def claim_jobs(self, params: ClaimParams) -> list[Job]:
        """Lease up to `limit` queued jobs with run_at <= now (of `operations` when given),
        highest priority first, then oldest run_at, then oldest insert; returned in that
        order. No two callers ever get the same job. Jobs with a `concurrency_key` are
        left alone: only `workload.claim_limited` takes them.

        Writes, per job: status `processing`, attempt + 1, a fresh `lease_token`,
        `lease_expires_at = now + lease_seconds`, `worker_id`, `started_at = updated_at =
        now`, progress 0, step NULL, version + 1; event (`status`); a listener change."""
        ...

    async def heartbeat(
        self, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> list[HeartbeatResult]:
        """Fenced. Report per lease whether it is still held and whether a cancel was
        requested.

        Writes, per lease held: `lease_expires_at = now + lease_seconds`, nothing else (no
        version, no event, no listener change: nobody waits for a heartbeat)."""
        ...

    async def set_progress(self, updates: Sequence[ProgressUpdate], now: datetime) -> list[bool]:
        """Fenced. Returns per update whether the lease is held.

        Writes, per update that changes something (progress rises, or a step other than
        the stored one is given): `progress_pct = max(current, given)` (never
        decreasing within an attempt), `step` replaced when given, `updated_at = now`,
        version + 1; event (`progress`); a `job.progress` delivery when the job asked for
        them; a listener change. An update that changes nothing writes nothing. Repeated
        updates of one job in one batch may become one change (PostgreSQL merges them)."""
        ...

    async def complete_jobs(
        self, completions: Sequence[Completion], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        """Fenced. None where the lease is not held.

        Writes, per completion: status `completed`, progress 100, `result`, `result_ref`,
        `step` when the Completion carries one, `finished_at = updated_at = now`,
        `expires_at = now + retention`, lease cleared (`worker_id` stays), version + 1;
        event (`completed`); a `job.completed` delivery; a listener change."""
        ...

    async def fail_jobs(
        self, failures: Sequence[Failure], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        """Fenced. None where the lease is not held.

        Writes, per failure with `retry_at` (the job will run again): status `queued`,
        `run_at = retry_at`, `updated_at = now`, progress 0, step NULL, lease cleared,
        `worker_id` NULL, version + 1 (the attempt's error is not kept: `error` is
        present iff the job is `failed`); event (`status`); a listener change.

        Per failure without: status `failed`, `error`, `finished_at = updated_at = now`,
        `expires_at = now + retention`, lease cleared (`worker_id` stays), version + 1;
        event (`failed`); a `job.failed` delivery; a listener change."""
        ...

    async def cancel_jobs(
        self, leases: Sequence[Lease], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        """Fenced: the worker stopped jobs whose cancel was requested. None where the
        lease is not held.

        Writes, per lease: status `cancelled`, `finished_at = updated_at = now`,
        `expires_at = now + retention`, lease cleared (`worker_id` stays), version + 1;
        event (`cancelled`); a `job.cancelled` delivery; a listener change."""
        ...

    async def release_jobs(self, leases: Sequence[Lease], now: datetime) -> list[Job | None]:
        """Fenced. Graceful shutdown: give jobs back to the queue at once, and the
        interrupted run does not count. None where the lease is not held.

        Writes, per lease: status `queued`, `run_at = updated_at = now`, attempt - 1 (not
        below 0), progress 0, step NULL, lease cleared, `worker_id` NULL, version + 1;
        event (`status`); a listener change."""
        ...

    async def rescue_expired(self, params: RescueParams) -> list[Job]:
        """Take back up to `limit` `processing` jobs whose lease expired before `now`,
        oldest lease first, re-checking status and lease in the writing statement (a
        heartbeat or completion that won the race is left alone); returns the changed jobs.

        The lost run counts as an attempt; what becomes of each job is
        `rules.rescue_of`, with `params.retry` for the backoff:

        * cancel requested: status `cancelled`, `finished_at = updated_at = now`,
          `expires_at = now + retention`, lease cleared, version + 1; event
          (`cancelled`); a `job.cancelled` delivery.
        * attempts used up: status `failed` with `worker_lost_error(attempt)`, otherwise
          as cancelled; event (`failed`); a `job.failed` delivery.
        * otherwise: status `queued`, `run_at = params.retry.next_attempt_at(now,
          operation, attempt)`, `updated_at = now`, progress 0, step NULL, lease
          cleared, `worker_id` NULL, version + 1; event (`status`).

        And a listener change per job. Safe in many processes at once: a job is taken
        back once."""
        ...

    # -- client actions ---------------------------------------------------------------
    async def request_cancel(
        self, job_id: str, now: datetime, retention_seconds: float
    ) -> CancelResult | None:
        """Cancel a job, as far as the store can; None when there is no such job.

        * `queued` -> CANCELLED. Writes: status `cancelled`, `finished_at = updated_at =
          now`, `expires_at = now + retention`, version + 1; event (`cancelled`); a
          `job.cancelled` delivery; a listener change.
        * `processing` -> REQUESTED; it ends when its worker notices (`cancel_jobs`).
          Writes, unless a cancel was already requested: `cancel_requested = true`,
          `updated_at = now`, version + 1; event (`status`, with `cancel_requested`
          true, so the worker holding the job hears of it in whatever process); a
          listener change with `cancel_requested=True`.
        * completed, failed or cancelled -> FINISHED, unchanged, nothing written.
        """
        ...

    async def delete_job(self, job_id: str) -> DeleteResult | None:
        """Delete a terminal job (see "Deleting a job"); no tombstone. None when there is
        no such job.

        `DeleteResult.job` is the job as it was; `deleted` is False (and nothing written)
        for a queued or processing job. A deletion writes no event (there is no new
        version); the listeners still get a change with the job's last version and
        status, so waiters re-read and find it gone (PostgreSQL also sends it to other
        processes itself)."""
        ...

    # -- maintenance ------------------------------------------------------------------
    async def sweep(self, params: SweepParams) -> Swept:
        """Retention, in one transaction, each step at most `batch_size` rows:

        * delete terminal jobs with `expires_at <= now` (never an active one), oldest
          first (see "Deleting a job"), each leaving a tombstone `(job_id, owner,
          expired_at = expires_at, keep_until = expires_at + tombstone_seconds)`,
          replacing an older tombstone of that id;
        * delete tombstones with `keep_until <= now`;
        * release idempotency keys whose window ended (`idempotency_expires_at <= now`):
          bookkeeping, no version, no event.

        No listener changes. Safe to run in many processes at once: nothing is deleted
        twice and claims are not blocked. Returns the deleted ids and result refs, so the
        caller can delete result files kept outside the store."""
        ...


def workload_of(store: Store) -> Workload | None:
    """The store's workload part, or None: also for a backend written before the part
    existed (it has no `workload` attribute at all), which then simply has no limits."""
    return getattr(store, "workload", None)


__all__ = [
    "WORKER_LOST_TYPE",
    "Batch",
    "BatchInserted",
    "Batches",
    "BlobInfo",
    "Blobs",
    "CancelOutcome",
    "CancelResult",
    "ClaimParams",
    "DeleteResult",
    "HandoffSubscription",
    "Handoffs",
    "JobChange",
    "JobCount",
    "JobEvent",
    "LimitUsage",
    "LimitedOperation",
    "Listener",
    "NewBatch",
    "Outbox",
    "Quotas",
    "RescueParams",
    "Schedule",
    "Schedules",
    "Store",
    "SweepParams",
    "WorkerInfo",
    "Workers",
    "Workload",
    "worker_lost_error",
    "workload_of",
]
