"""The Store protocol: the job table is the queue, and these are its lifecycle verbs.

Every backend (sqlite, postgres) implements this and passes the one contract suite in
tests/contract, so behaviour cannot drift between them. Rules every method follows:

* Each method is one transaction: a job's status, progress, lease, result, error and event
  change together or not at all. Batch methods are one transaction for the whole batch.
* Callers pass `now`; the store never reads the clock for job timestamps (tests move time
  by passing a later `now`).
* Every write made on behalf of a running attempt is *fenced* by its `Lease` token: if the
  job's current token differs (the lease expired and another worker took it, or it was
  released), the write changes nothing and reports that (None / False / alive=False).
* Every committed change of a job row increments `Job.version` by exactly one and records
  one event row `(job_id, version, kind, ...)`, where kind is `status`, `progress`,
  `completed`, `failed` or `cancelled`. The version is assigned under the row's lock in the
  same transaction, so per-job event ids are in commit order.
* After a commit the store calls its in-process listeners with a `JobChange` for each
  changed job; while listeners exist it also delivers changes committed by *other*
  processes (SQLite: a short poll of the events table; PostgreSQL: LISTEN/NOTIFY).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from lro.deliveries import AttemptRecord, Delivery
from lro.models import (
    Completion,
    ErrorDetail,
    Failure,
    HeartbeatResult,
    Inserted,
    Job,
    Lease,
    ListQuery,
    NewJob,
    Page,
    ProgressUpdate,
    Status,
    Swept,
    Tombstone,
)

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


@dataclass(frozen=True, slots=True)
class JobChange:
    """A committed change of one job, as delivered to listeners."""

    job_id: str
    version: int
    status: Status
    cancel_requested: bool = False
    """True when this change requested cancellation of a processing job, so a worker can
    react to just these notifications without querying on every change."""


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One row of a job's event history (feeds SSE resumption)."""

    job_id: str
    version: int
    kind: str
    status: Status
    progress_pct: float
    step: str | None
    attempt: int
    at: datetime


@dataclass(frozen=True, slots=True)
class JobCount:
    """How many unexpired jobs of one operation are in one status (feeds GET /stats)."""

    operation: str
    status: Status
    count: int


@dataclass(frozen=True, slots=True)
class ClaimParams:
    worker_id: str
    limit: int
    lease_seconds: float
    now: datetime
    operations: Sequence[str] | None = None
    """Only claim these operations (the ones the worker can run); None means any."""


@dataclass(frozen=True, slots=True)
class RescueParams:
    now: datetime
    retention_seconds: float
    retry_delay_seconds: float = 0.0
    limit: int = 500


@dataclass(frozen=True, slots=True)
class SweepParams:
    now: datetime
    batch_size: int
    tombstone_seconds: float


Listener = Callable[[JobChange], None]

_log = logging.getLogger("lro.store")


def dispatch(listeners: Sequence[Listener], changes: Sequence[JobChange]) -> None:
    """Call every listener with every change; one failing listener must not keep the
    changes from the others (they are waiters of unrelated requests)."""
    if not changes or not listeners:
        return
    snapshot = tuple(listeners)  # a listener may remove itself while being called
    for change in changes:
        for listener in snapshot:
            try:
                listener(change)
            except Exception:
                _log.exception("store listener failed on %s", change)


class Outbox(Protocol):
    """Webhook deliveries (rows written by the store itself when a job with a callback_url
    ends; see the 0002 migrations). Safe for many dispatchers in many processes: a claim
    takes due deliveries exclusively and leases them until `lease_until`."""

    async def claim_deliveries(
        self, now: datetime, lease_until: datetime, limit: int, skip: Sequence[str] = ()
    ) -> list[Delivery]:
        """Take up to `limit` due pending deliveries, oldest due first, none to a target
        in `skip`; each gets its attempt counter bumped (the number its outcome must
        quote) and is not due again before `lease_until`, so a dispatcher that dies
        mid-send only delays it."""

    async def defer_deliveries(self, claimed: Sequence[Delivery], until: datetime) -> None:
        """Give claimed deliveries back unsent, due again at `until`, with the claim's
        attempt undone (fenced like record_attempt): for targets that are busy."""

    async def record_attempt(self, record: AttemptRecord) -> bool:
        """Store an attempt's outcome, fenced: False (and nothing written) unless the
        delivery is still pending at that attempt number."""

    async def list_deliveries(self, job_id: str) -> list[Delivery]:
        """A job's deliveries, oldest first, each with its attempt history."""

    async def retry_delivery(self, job_id: str, delivery_id: str, now: datetime) -> Delivery | None:
        """Make a delivery due now (a finished one gets one more, manual, attempt)."""

    async def shared_setting(self, key: str, default: str) -> str:
        """The value every process agrees on: `default` is stored if none was yet."""

    async def pending_deliveries(self) -> int:
        """How many deliveries are still to be sent or retried (for /metrics)."""


class Limits(Protocol):
    """Shared counters for abuse limits: every process on one database sees the same."""

    async def take_tokens(
        self, key: str, *, rate: float, burst: float, cost: float, now: datetime
    ) -> float:
        """Token bucket `key` (refilled at `rate` per second up to `burst`): take `cost`
        tokens and return 0.0, or take nothing and return the seconds until they exist."""

    async def active_jobs(self, owner: str) -> int:
        """How many of `owner`'s jobs are queued or processing (0 for the anonymous owner
        "", which is never capped: its index leaves it out)."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A finished result blob (see `Blobs`): its length and the chunk size it was cut in."""

    size: int
    chunk_bytes: int
    created_at: datetime


class Blobs(Protocol):
    """Result files kept in the job store itself (`LRO_RESULT_STORE=db`), so API and worker
    processes that share no disk still share results. A blob is named by its job and a key
    (`lro.results` puts the writing attempt in the key, so attempts never share a blob).

    Rows, per backend (SQLite: `result_blobs`, `result_chunks`; PostgreSQL: `lro_`-prefixed;
    a Redis backend: one hash per blob and one string per chunk under the job's keys):

    * `write_chunk` upserts one chunk row `(job_id, key, index) -> data`, in a transaction
      of its own, so a file of any size is written without holding it, or one long
      transaction, in memory. Nothing is written (False) when the job does not exist.
    * `finish` inserts the one blob row `(job_id, key) -> size, chunk_bytes, created_at`
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


@dataclass(frozen=True, slots=True)
class HandoffSubscription:
    """A worker's hooks for hand-offs: `on_job` gets a job leased to it by a submit (or the
    job's id, when the row was too big to send along); `on_reconnect` runs when the
    store's notification session came back, since a hand-off may have been lost with it."""

    on_job: Callable[[Job | str], None]
    on_reconnect: Callable[[], None]


class Handoffs(Protocol):
    """Direct hand-off of a new job to a parked idle worker, skipping its claim (only the
    PostgreSQL store has it: across processes a claim costs a second database trip; see
    store/postgres_handoff.py). A store without it has `handoffs = None`."""

    def subscribe(self, worker_id: str, sub: HandoffSubscription) -> Callable[[], None]:
        """Route this worker's hand-offs to `sub`; returns the unsubscribe function."""

    async def claim_or_park(self, params: ClaimParams) -> tuple[list[Job], bool]:
        """Claim as `Store.claim_jobs` does; when the claim comes back short, also offer
        the worker one hand-off, atomically with the claim. The flag says whether it is
        now parked (False when the store cannot deliver a hand-off now)."""

    async def unpark(self, worker_id: str) -> bool:
        """Withdraw the offer; False when a hand-off already took it."""

    async def orphaned(self, worker_id: str, known_tokens: Sequence[str]) -> list[Job]:
        """Jobs leased to the worker under tokens it does not hold (lost hand-offs)."""


@runtime_checkable
class Store(Protocol):
    """Async job store. See the module docstring for the rules every method keeps."""

    supports_listen: bool
    """True when other processes' changes are pushed (LISTEN/NOTIFY) rather than polled."""

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
    def limits(self) -> Limits:
        """Rate-limit buckets and per-owner counts, on the same database."""

    @property
    def blobs(self) -> Blobs:
        """Result files stored in the database, in chunks (see Blobs)."""

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
        """Insert jobs as `queued` (version 1, one `status` event each), in one transaction.

        Idempotency: a NewJob with `idempotency_key` is unique per (owner, key) among keys
        that are still live: `idempotency_expires_at > now` and the owning job neither
        deleted nor expired. When a live key exists, nothing is inserted for that NewJob
        and its Inserted carries the existing job with `created=False`, provided the
        `request_fingerprint`s are equal; when they differ the store raises KeyReused and
        the whole batch is rolled back (nothing stored). A stale key is released and the
        new job takes it. The
        decision rests on a unique index, so concurrent duplicates from many processes
        make exactly one job; the loser reads the winner's row.
        """
        ...

    # -- read -----------------------------------------------------------------------
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

    async def job_with_events(
        self, job_id: str, after_version: int
    ) -> tuple[Job | None, list[JobEvent]]:
        """`events_after` and then `get_job`, in one round trip: what a job's followers
        need on every change. The job is never older than the last event returned."""
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
        """Lease up to `limit` queued jobs with run_at <= now, highest priority first, then
        oldest run_at. Each becomes `processing` with attempt + 1, a fresh lease token,
        lease_expires_at = now + lease_seconds, worker_id, started_at = now, progress 0 and
        step None. No two callers ever get the same job."""
        ...

    async def heartbeat(
        self, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> list[HeartbeatResult]:
        """Extend the leases still held (no version change, no event); report per lease
        whether it is still held and whether a cancel was requested."""
        ...

    async def set_progress(self, updates: Sequence[ProgressUpdate], now: datetime) -> list[bool]:
        """Fenced. progress_pct = max(current, given) (never decreasing within an attempt),
        step replaced when given. A change writes a `progress` event; an update that
        changes nothing writes nothing. Returns per update whether the lease is held."""
        ...

    async def complete_jobs(
        self, completions: Sequence[Completion], now: datetime, retention_seconds: float
    ) -> list[Job | None]:
        """Fenced. -> `completed`, progress 100, result or result_ref, step replaced when
        the Completion carries one, finished_at = now, expires_at = now + retention, lease
        cleared. None where the lease is not held."""
        ...

    async def fail_job(
        self, failure: Failure, now: datetime, retention_seconds: float
    ) -> Job | None:
        """Fenced. With retry_at: back to `queued` at run_at = retry_at, lease cleared, no
        error shown. Without: `failed` with the error, finished_at and expires_at set."""
        ...

    async def cancel_running(
        self, lease: Lease, now: datetime, retention_seconds: float
    ) -> Job | None:
        """Fenced. The worker stopped a job whose cancel was requested: -> `cancelled`."""
        ...

    async def release_jobs(self, leases: Sequence[Lease], now: datetime) -> list[Job | None]:
        """Fenced. Graceful shutdown: give jobs back to the queue at once, run_at = now,
        and the interrupted run does not count (attempt - 1)."""
        ...

    async def rescue_expired(self, params: RescueParams) -> list[Job]:
        """Take back `processing` jobs whose lease expired before `now`, re-checking status
        and lease in the same statement. The lost run counts as an attempt: a job with a
        cancel requested ends `cancelled`; one that used up max_attempts ends `failed`
        with `worker_lost_error(attempt)`; others go back to `queued` at
        now + retry_delay_seconds. Returns the changed jobs."""
        ...

    # -- client actions ---------------------------------------------------------------
    async def request_cancel(
        self, job_id: str, now: datetime, retention_seconds: float
    ) -> Job | None:
        """A queued job becomes `cancelled` at once; a processing one gets
        cancel_requested (version + 1, a `status` event) and ends when its worker notices.
        A terminal job is returned unchanged. None when there is no such job."""
        ...

    async def delete_job(self, job_id: str) -> Job | None:
        """Delete a terminal job with its events, idempotency key and result blobs; no
        tombstone.
        Returns the job as it was (a non-terminal job is returned and NOT deleted), or None
        when there is no such job."""
        ...

    # -- maintenance ------------------------------------------------------------------
    async def sweep(self, params: SweepParams) -> Swept:
        """Delete up to batch_size terminal jobs with expires_at <= now (never an active
        one), with their events and result blobs, leaving a tombstone kept until expires_at +
        tombstone_seconds; drop tombstones past that. Safe to run in many processes at
        once: nothing is deleted twice and claims are not blocked."""
        ...
