"""A reference model of the store: the job state machine as plain Python, no database.

`tests/contract/test_model.py` drives a real store and this model with the same random
verbs and compares them after every step. The model is written from the `Store`
docstrings (lro/store/base.py), not from any backend's SQL, so a backend that drifts from
the protocol disagrees with it. It predicts everything the verbs decide (which jobs a
claim takes and in what order, what a fenced write answers, where an idempotent submit
lands, what a rescue and a sweep do) and takes from the store only what the store is free
to choose: lease tokens.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lro.models import TERMINAL, ErrorDetail, Lease, Status
from lro.store import CancelOutcome, worker_lost_error


@dataclass
class ModelJob:
    """What the model knows of one job; the fields mirror `lro.models.Job`."""

    id: str
    operation: str
    priority: int
    max_attempts: int
    seq: int
    """Insertion order: the claim's last tie-breaker."""
    run_at: datetime
    created_at: datetime
    status: Status = Status.QUEUED
    version: int = 1
    attempt: int = 0
    cancel_requested: bool = False
    progress_pct: float = 0
    step: str | None = None
    token: str | None = None
    lease_expires_at: datetime | None = None
    worker_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    result: object = None
    error: ErrorDetail | None = None
    key: str | None = None
    fingerprint: str | None = None
    key_expires_at: datetime | None = None

    @property
    def lease(self) -> Lease | None:
        return None if self.token is None else Lease(self.id, self.token)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class Submit:
    """One NewJob of a batch, as the model sees it."""

    id: str
    operation: str
    priority: int
    max_attempts: int
    delay: float
    key: str | None
    fingerprint: str | None
    key_ttl: float


@dataclass
class Model:
    """The whole store as the model sees it. Each verb mutates the model as the store
    must and returns what the store must answer."""

    now: datetime
    retention: float
    tombstone_seconds: float
    jobs: dict[str, ModelJob] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    tombstones: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    """job id -> (expired_at, keep_until)."""
    stale: list[Lease] = field(default_factory=list)
    """Every lease token that was once current and no longer is."""
    _seq: int = 0

    # -- helpers --------------------------------------------------------------------
    def held(self, lease: Lease) -> ModelJob | None:
        """The job a fenced write with `lease` may change, if any."""
        job = self.jobs.get(lease.job_id)
        if job is None or job.status is not Status.PROCESSING or job.token != lease.token:
            return None
        return job

    def leases(self) -> list[Lease]:
        return [j.lease for j in self.jobs.values() if j.lease is not None]

    def _drop_lease(self, job: ModelJob, *, keep_worker: bool) -> None:
        if job.lease is not None:
            self.stale.append(job.lease)
        job.token = None
        job.lease_expires_at = None
        if not keep_worker:
            job.worker_id = None
        job.version += 1

    def _end(self, job: ModelJob, status: Status) -> None:
        job.status = status
        job.finished_at = self.now
        job.expires_at = self.now + timedelta(seconds=self.retention)
        self._drop_lease(job, keep_worker=True)

    def _requeue(self, job: ModelJob, run_at: datetime) -> None:
        job.status = Status.QUEUED
        job.run_at = run_at
        job.progress_pct = 0
        job.step = None
        self._drop_lease(job, keep_worker=False)

    def _key_holder(self, key: str) -> ModelJob | None:
        return next((j for j in self.jobs.values() if j.key == key), None)

    # -- submit ---------------------------------------------------------------------
    def insert(self, batch: Sequence[Submit]) -> list[tuple[str, bool]] | set[str]:
        """Per NewJob (the job id that answers it, created?); or, when a live key is
        reused for another request (KeyReused: nothing of the batch is stored), the ids
        of the jobs holding such keys, any of which the error may name: a backend may
        find the keys held by stored jobs before the ones taken earlier in the batch."""
        trial = dataclasses.replace(
            self, jobs={k: dataclasses.replace(v) for k, v in self.jobs.items()}
        )
        answers: list[tuple[str, bool]] = []
        reused: set[str] = set()
        for new in batch:
            holder = None if new.key is None else trial._key_holder(new.key)
            if holder is not None:
                key_live = holder.key_expires_at is None or holder.key_expires_at > self.now
                if key_live and not holder.expired(self.now):
                    if holder.fingerprint != new.fingerprint:
                        reused.add(holder.id)
                        continue
                    answers.append((holder.id, False))
                    continue
                holder.key = holder.fingerprint = holder.key_expires_at = None
            trial._seq += 1
            trial.jobs[new.id] = ModelJob(
                id=new.id,
                operation=new.operation,
                priority=new.priority,
                max_attempts=new.max_attempts,
                seq=trial._seq,
                run_at=self.now + timedelta(seconds=new.delay),
                created_at=self.now,
                key=new.key,
                fingerprint=new.fingerprint if new.key is not None else None,
                key_expires_at=(
                    self.now + timedelta(seconds=new.key_ttl) if new.key is not None else None
                ),
            )
            answers.append((new.id, True))
        if reused:
            return reused
        self.jobs, self._seq = trial.jobs, trial._seq
        return answers

    # -- worker ---------------------------------------------------------------------
    def claimable(self, limit: int, operations: Sequence[str] | None) -> list[ModelJob]:
        """The jobs a claim must take, in the order it must return them."""
        due = [
            j
            for j in self.jobs.values()
            if j.status is Status.QUEUED
            and j.run_at <= self.now
            and (operations is None or j.operation in operations)
        ]
        due.sort(key=lambda j: (-j.priority, j.run_at, j.seq))
        return due[: max(limit, 0)]

    def claimed(self, job: ModelJob, token: str, worker_id: str, lease_seconds: float) -> None:
        job.status = Status.PROCESSING
        job.attempt += 1
        job.token = token
        job.lease_expires_at = self.now + timedelta(seconds=lease_seconds)
        job.worker_id = worker_id
        job.started_at = self.now
        job.progress_pct = 0
        job.step = None
        job.version += 1

    def heartbeat(self, lease: Lease, lease_seconds: float) -> tuple[bool, bool]:
        job = self.held(lease)
        if job is None:
            return (False, False)
        job.lease_expires_at = self.now + timedelta(seconds=lease_seconds)
        return (True, job.cancel_requested)

    def progress(self, lease: Lease, pct: float, step: str | None) -> bool:
        job = self.held(lease)
        if job is None:
            return False
        if pct > job.progress_pct or (step is not None and step != job.step):
            job.progress_pct = max(job.progress_pct, pct)
            job.step = step if step is not None else job.step
            job.version += 1
        return True

    def complete(self, lease: Lease, result: object, step: str | None) -> bool:
        job = self.held(lease)
        if job is None:
            return False
        job.progress_pct = 100
        job.result = result
        if step is not None:
            job.step = step
        self._end(job, Status.COMPLETED)
        return True

    def fail(self, lease: Lease, error: ErrorDetail, retry_at: datetime | None) -> bool:
        job = self.held(lease)
        if job is None:
            return False
        if retry_at is None:
            job.error = error
            self._end(job, Status.FAILED)
        elif job.cancel_requested:
            # A cancel requested before the attempt failed: the retry would ignore it.
            self._end(job, Status.CANCELLED)
        else:
            self._requeue(job, retry_at)
        return True

    def cancelled_by_worker(self, lease: Lease) -> bool:
        job = self.held(lease)
        if job is None:
            return False
        self._end(job, Status.CANCELLED)
        return True

    def release(self, lease: Lease) -> bool:
        job = self.held(lease)
        if job is None:
            return False
        job.attempt = max(job.attempt - 1, 0)
        self._requeue(job, self.now)
        return True

    def rescue(self) -> list[str]:
        """Ids of the jobs taken back, oldest lease first (the retry policy has no
        backoff here, so a requeued job is due at once)."""
        lost = [
            j
            for j in self.jobs.values()
            if j.status is Status.PROCESSING
            and j.lease_expires_at is not None
            and j.lease_expires_at < self.now
        ]
        lost.sort(key=lambda j: j.lease_expires_at or self.now)
        for job in lost:
            if job.cancel_requested:
                self._end(job, Status.CANCELLED)
            elif job.attempt >= job.max_attempts:
                job.error = worker_lost_error(job.attempt)
                self._end(job, Status.FAILED)
            else:
                self._requeue(job, self.now)
        return [j.id for j in lost]

    # -- client actions -------------------------------------------------------------
    def request_cancel(self, job_id: str) -> CancelOutcome | None:
        job = self.jobs.get(job_id)
        if job is None:
            return None
        if job.status is Status.QUEUED:
            self._end(job, Status.CANCELLED)
            return CancelOutcome.CANCELLED
        if job.status is Status.PROCESSING:
            if not job.cancel_requested:
                job.cancel_requested = True
                job.version += 1
            return CancelOutcome.REQUESTED
        return CancelOutcome.FINISHED

    def delete(self, job_id: str) -> bool | None:
        job = self.jobs.get(job_id)
        if job is None:
            return None
        if job.status not in TERMINAL:
            return False
        self._forget(job_id)
        return True

    def _forget(self, job_id: str) -> None:
        self.jobs.pop(job_id)
        self.deleted.add(job_id)

    # -- maintenance ----------------------------------------------------------------
    def sweep(self) -> set[str]:
        """Ids deleted (every step's batch is larger than the model ever holds)."""
        gone = {
            j.id
            for j in self.jobs.values()
            if j.status in TERMINAL and j.expires_at is not None and j.expires_at <= self.now
        }
        for job_id in gone:
            expired_at = self.jobs[job_id].expires_at
            assert expired_at is not None
            keep_until = expired_at + timedelta(seconds=self.tombstone_seconds)
            self.tombstones[job_id] = (expired_at, keep_until)
            self._forget(job_id)
        self.tombstones = {k: v for k, v in self.tombstones.items() if v[1] > self.now}
        for job in self.jobs.values():
            if job.key_expires_at is not None and job.key_expires_at <= self.now:
                job.key = job.fingerprint = job.key_expires_at = None
        return gone

    # -- reads ----------------------------------------------------------------------
    def counts(self) -> Counter[tuple[str, Status]]:
        return Counter(
            (j.operation, j.status) for j in self.jobs.values() if not j.expired(self.now)
        )
