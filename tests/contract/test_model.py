"""Model-based tests: random interleavings of the store's verbs, checked against a model.

Hypothesis's stateful testing drives a real store (two of them on one database, standing
in for an API process and a worker process) and the reference model of
`tests/contract/model.py` with the same verbs: submits with and without idempotency keys
(same key with the same or another fingerprint, in batches), claims, heartbeats,
progress, completions, retryable and permanent failures, cancels of queued and running
jobs, releases, deletes, lease expiry (moving the `now` every verb takes: the store never
reads the clock) with rescues, and sweeps. After every step it checks the promises:

* every job's row is what the model says (status, version, attempt, lease, progress,
  result, error, timestamps, idempotency key), and the per-(operation, status) counts;
* exactly one terminal state per job, and a terminal job never changes;
* versions only grow, by one event each, and no job is both queued and leased;
* a fenced write with a stale lease token changes nothing (the whole row is compared);
* an idempotent replay is the original job as stored.

It runs on every backend in BACKENDS, with a fresh database per example. The default run
keeps to a small, deterministic budget (`derandomize`); `-m slow` runs a larger one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tests.contract.conftest import BACKENDS, database_url
from tests.contract.helpers import T0, make_store
from tests.contract.model import Model, ModelJob, Submit

from lro.errors import KeyReused
from lro.models import (
    TERMINAL,
    Completion,
    ErrorDetail,
    Failure,
    Job,
    Lease,
    ListQuery,
    NewJob,
    ProgressUpdate,
    Status,
    Tombstone,
)
from lro.retry import RetryPolicy
from lro.store import ClaimParams, RescueParams, Store, SweepParams

RETENTION = 30.0
TOMBSTONE_SECONDS = 20.0
OPERATIONS = ("alpha", "beta")
TERMINAL_KINDS = frozenset({"completed", "failed", "cancelled"})

settings.register_profile(
    "lro-model",
    max_examples=25,
    stateful_step_count=50,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.register_profile(
    "lro-model-slow",
    parent=settings.get_profile("lro-model"),
    max_examples=300,
    stateful_step_count=60,
)

WAIT = st.sampled_from([0, 0, 0, 1, 5, 15, 40])
"""Seconds that pass before a step."""
pick = st.integers(min_value=0, max_value=1 << 16)
"""An index into whatever list a rule picks from (taken modulo its length)."""


def error_of(attempt: int, *, retryable: bool) -> ErrorDetail:
    return ErrorDetail(
        type="https://example.com/problems/model",
        title="Model failure",
        detail=f"attempt {attempt}",
        code="model",
        retryable=retryable,
        attempts=attempt,
    )


class StoreMachine(RuleBasedStateMachine):
    """One example: a fresh database, an API store and a worker store on it, a model."""

    kind: str = "sqlite"
    base: Path = Path()

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.exits = contextlib.AsyncExitStack()
        folder = self.base / uuid.uuid4().hex
        folder.mkdir()
        url = self.run(self.exits.enter_async_context(database_url(self.kind, folder)))
        self.api: Store = self.run(make_store(url))
        self.worker_store: Store = self.run(make_store(url))
        self.model = Model(now=T0, retention=RETENTION, tombstone_seconds=TOMBSTONE_SECONDS)
        self.ids = 0
        self.versions: dict[str, int] = {}
        """The last version seen of each job (and so of its events)."""
        self.finals: dict[str, Job] = {}
        """Each terminal job as first seen terminal: it must never change."""
        self.terminal_events: Counter[str] = Counter()
        self.gone: set[str] = set()
        """Deleted jobs already found gone."""

    def run(self, coro: Any) -> Any:
        return self.runner.run(coro)

    def teardown(self) -> None:
        try:
            self.run(self.worker_store.close())
            self.run(self.api.close())
            self.run(self.exits.aclose())
        finally:
            self.runner.close()

    @property
    def now(self) -> datetime:
        return self.model.now

    def new_id(self) -> str:
        self.ids += 1
        return str(uuid.UUID(int=self.ids))

    def some_lease(self, index: int, stale: bool, asked: bool = False) -> Lease:
        """A current lease (with `asked`, one whose cancel was requested, if any), or a
        stale one; whichever exists."""
        live, old = self.model.leases(), self.model.stale
        cancelling = [lease for lease in live if self.model.jobs[lease.job_id].cancel_requested]
        if asked and cancelling:
            live = cancelling
        pool = (old or live) if stale else (live or old)
        return pool[index % len(pool)]

    def has_leases(self) -> bool:
        return bool(self.model.leases() or self.model.stale)

    async def row(self, job_id: str) -> Job | None:
        return await self.api.get_job(job_id)

    def fenced(self, lease: Lease, write: Any, expect: bool) -> None:
        """Run a fenced write; one whose lease is not held must leave the row as it was."""
        before = self.run(self.row(lease.job_id))
        answer = self.run(write)
        if not expect:
            assert self.run(self.row(lease.job_id)) == before, "a stale lease changed the job"
        assert answer == expect, (lease, answer, expect)

    # -- submit ---------------------------------------------------------------------
    @initialize(count=st.integers(1, 4))
    def seed(self, count: int) -> None:
        """Every example starts with a few plain jobs, so most steps find one to act on."""
        self.submit([("alpha", 0, 3, 0.0, None, "f1", 15.0)] * count, 0)

    @rule(
        batch=st.lists(
            st.tuples(
                st.sampled_from(OPERATIONS),
                st.integers(0, 1),
                st.integers(1, 3),
                st.sampled_from([0.0, 0.0, 10.0]),
                st.sampled_from([None, None, "k1", "k2"]),
                st.sampled_from(["f1", "f2"]),
                st.sampled_from([15.0, 150.0]),
            ),
            min_size=1,
            max_size=3,
        ),
        wait=WAIT,
    )
    def submit(
        self, batch: list[tuple[str, int, int, float, str | None, str, float]], wait: int
    ) -> None:
        """A client submits a batch: keyed or not, replays, a key reused for another
        request (the whole batch is refused), keys whose window or job has expired."""
        self.wait(wait)
        subs = [Submit(self.new_id(), *fields) for fields in batch]
        new = [
            NewJob(
                id=s.id,
                operation=s.operation,
                params={"n": i},
                priority=s.priority,
                max_attempts=s.max_attempts,
                run_at=self.now + timedelta(seconds=s.delay) if s.delay else None,
                idempotency_key=s.key,
                request_fingerprint=s.fingerprint if s.key else None,
                idempotency_expires_at=(self.now + timedelta(seconds=s.key_ttl) if s.key else None),
            )
            for i, s in enumerate(subs)
        ]
        expected = self.model.insert(subs)
        if isinstance(expected, set):
            with pytest.raises(KeyReused) as raised:
                self.run(self.api.insert_jobs(new, self.now))
            assert raised.value.job_id in expected, (raised.value.job_id, expected)
            for s in subs:
                assert self.run(self.row(s.id)) is None
            return
        answers = self.run(self.api.insert_jobs(new, self.now))
        assert [(a.job.id, a.created) for a in answers] == expected
        for answer in answers:
            assert answer.accepted == answer.job
            if answer.created:
                assert (answer.job.status, answer.job.version) == (Status.QUEUED, 1)
        for answer in answers:
            if not answer.created:
                # The replay is the original job, exactly as stored now.
                assert answer.job == self.run(self.row(answer.job.id))

    # -- worker ---------------------------------------------------------------------
    # Hypothesis picks among rules evenly, and in each example it leaves some rules out
    # (swarm testing), so each actor is one rule choosing its verb from a weighted list,
    # and every rule may first let time pass: a rule per verb would spend most steps on
    # maintenance, and an example without the clock rule would never see a lease end.
    @rule(
        verb=st.sampled_from(
            [
                *["claim"] * 3,
                *["progress", "complete", "retry"] * 2,
                *["heartbeat", "fail", "cancelled", "release"],
            ]
        ),
        index=pick,
        stale=st.sampled_from([False, False, False, True]),
        asked=st.booleans(),
        pct=st.sampled_from([0.0, 10.0, 35.5, 80.0]),
        text=st.sampled_from([None, "reading", "writing"]),
        seconds=st.sampled_from([0.0, 3.0, 10.0, 30.0]),
        operations=st.sampled_from([None, None, ["alpha"], ["beta"], ["alpha", "beta"]]),
        wait=WAIT,
    )
    def worker(
        self,
        verb: str,
        index: int,
        stale: bool,
        asked: bool,
        pct: float,
        text: str | None,
        seconds: float,
        operations: list[str] | None,
        wait: int,
    ) -> None:
        """A worker claims jobs, or makes one fenced write for a running attempt (now and
        then with a stale lease, which must change nothing)."""
        self.wait(wait)
        if verb == "claim" or not (self.model.leases() or (stale and self.model.stale)):
            self.claim(f"w{index % 2 + 1}", index % 3 + 1, operations, seconds or 10.0)
            return
        self.write(verb, self.some_lease(index, stale, asked), pct, text, seconds)

    def write(self, verb: str, lease: Lease, pct: float, text: str | None, seconds: float) -> None:
        if verb == "heartbeat":
            self.heartbeat(lease, seconds or 10.0)
            return
        job = self.model.jobs.get(lease.job_id)
        attempt = job.attempt if job else 1
        later = self.now + timedelta(seconds=seconds)
        store, now = self.worker_store, self.now
        match verb:
            case "progress":
                expect = self.model.progress(lease, pct, text)
                write = _single(store.set_progress([ProgressUpdate(lease, pct, text)], now))
            case "complete":
                result = [pct, text]
                expect = self.model.complete(lease, result, text)
                done = Completion(lease, result, None, text)
                write = _stored(store.complete_jobs([done], now, RETENTION))
            case "retry" | "fail":
                retry_at = later if verb == "retry" else None
                error = error_of(attempt, retryable=verb == "retry")
                expect = self.model.fail(lease, error, retry_at)
                failure = Failure(lease, error, retry_at)
                write = _stored(store.fail_jobs([failure], now, RETENTION))
            case "cancelled":  # the worker ends a job whose cancel it heard of
                expect = self.model.cancelled_by_worker(lease)
                write = _stored(store.cancel_jobs([lease], now, RETENTION))
            case _:
                expect = self.model.release(lease)
                write = _stored(store.release_jobs([lease], now))
        self.fenced(lease, write, expect)

    def running(self) -> bool:
        return any(j.status is Status.PROCESSING for j in self.model.jobs.values())

    @precondition(running)
    @rule(
        index=pick,
        verb=st.sampled_from(["retry", "retry", "fail", "complete", "release", "cancelled"]),
        seconds=st.sampled_from([0.0, 3.0]),
        wait=WAIT,
    )
    def cancel_races_the_attempt(self, index: int, verb: str, seconds: float, wait: int) -> None:
        """A client cancels a running job just as its attempt ends (or the worker shuts
        down, or the lease runs out): a cancelled job must never run again, and the
        attempt's own ending is kept only where the contract says so."""
        job_id = self.job_or_unknown(index, Status.PROCESSING)
        self.cancel(job_id)
        self.wait(wait)
        lease = self.model.jobs[job_id].lease
        assert lease is not None
        self.write(verb, lease, 50.0, None, seconds)

    def claim(
        self, worker: str, limit: int, operations: list[str] | None, lease_seconds: float
    ) -> None:
        expected = [j.id for j in self.model.claimable(limit, operations)]
        params = ClaimParams(worker, limit, lease_seconds, self.now, operations)
        got = self.run(self.worker_store.claim_jobs(params))
        assert [j.id for j in got] == expected, (
            [j.id[-2:] for j in got],
            [e[-2:] for e in expected],
        )
        for job in got:
            assert job.lease_token is not None
            assert job.lease_token not in {lease.token for lease in self.model.stale}
            self.model.claimed(self.model.jobs[job.id], job.lease_token, worker, lease_seconds)

    def heartbeat(self, lease: Lease, secs: float) -> None:
        """Heartbeat a batch: this lease and every other current one."""
        leases = list(dict.fromkeys([lease, *self.model.leases()]))
        expected = [self.model.heartbeat(one, secs) for one in leases]
        before = {one.job_id: self.run(self.row(one.job_id)) for one in leases}
        got = self.run(self.worker_store.heartbeat(leases, secs, self.now))
        assert [(r.job_id, r.alive) for r in got] == [
            (one.job_id, alive) for one, (alive, _) in zip(leases, expected, strict=True)
        ]
        extended = {r.job_id for r in got if r.alive}
        for result, (alive, cancel) in zip(got, expected, strict=True):
            if alive:
                assert result.cancel_requested == cancel
            elif result.job_id not in extended:  # a stale lease of a job held by no one here
                assert self.run(self.row(result.job_id)) == before[result.job_id]

    # -- time and maintenance -------------------------------------------------------
    def wait(self, seconds: int) -> None:
        """Time passes: leases run out, retries and delayed jobs come due, jobs and keys
        expire. The store never reads the clock, so only the `now` it is given moves."""
        self.model.now += timedelta(seconds=seconds)

    @rule(move=st.sampled_from(["rescue", "rescue", "sweep"]), wait=WAIT)
    def maintenance(self, move: str, wait: int) -> None:
        """The rescuer takes back jobs whose lease ran out; the sweeper deletes expired ones."""
        self.wait(wait)
        if move == "rescue":
            self.rescue()
        else:
            self.sweep()

    def rescue(self) -> None:
        expiries = {j.id: j.lease_expires_at for j in self.model.jobs.values()}
        expected = self.model.rescue()
        params = RescueParams(self.now, RETENTION, retry=RetryPolicy(base_seconds=0))
        got = self.run(self.worker_store.rescue_expired(params))
        assert sorted(j.id for j in got) == sorted(expected)
        order = [expiries[j.id] for j in got]
        assert order == sorted(order, key=lambda e: e or self.now), "oldest lease first"

    def sweep(self) -> None:
        expected = self.model.sweep()
        swept = self.run(self.api.sweep(SweepParams(self.now, 1000, TOMBSTONE_SECONDS)))
        assert set(swept.job_ids) == expected
        for job_id in self.model.deleted | expected:
            tomb = self.model.tombstones.get(job_id)
            want = None if tomb is None else Tombstone(job_id, "", tomb[0])
            assert self.run(self.api.get_tombstone(job_id, self.now)) == want

    # -- client actions -------------------------------------------------------------
    def job_or_unknown(self, index: int, status: Status | str | None) -> str:
        """A job in `status` when there is one, else any job, else a deleted one ("gone"
        asks for one), else (or when asked for "unknown") an id no job has."""
        jobs = self.model.jobs.values()
        gone = sorted(self.model.deleted)
        if status == "gone":
            ids = gone
        else:
            ids = [j.id for j in jobs if j.status is status] or list(self.model.jobs) or gone
        if not ids or status == "unknown":
            return str(uuid.UUID(int=(1 << 64) + index))  # no such job
        return ids[index % len(ids)]

    def has_jobs(self) -> bool:
        return bool(self.model.jobs or self.model.deleted)

    @precondition(has_jobs)
    @rule(
        action=st.sampled_from(
            [
                ("cancel", Status.PROCESSING),
                ("cancel", Status.PROCESSING),
                ("cancel", Status.QUEUED),
                ("cancel", None),
                ("cancel", "unknown"),
                ("cancel", "gone"),
                ("delete", Status.COMPLETED),
                ("delete", Status.CANCELLED),
                ("delete", None),
                ("delete", "unknown"),
            ]
        ),
        index=pick,
        wait=WAIT,
    )
    def client(self, action: tuple[str, Status | str | None], index: int, wait: int) -> None:
        """A client cancels a job (queued, running, ended or unknown) or deletes one."""
        self.wait(wait)
        verb, status = action
        job_id = self.job_or_unknown(index, status)
        if verb == "cancel":
            self.cancel(job_id)
        else:
            deleted = self.model.delete(job_id)
            answer = self.run(self.api.delete_job(job_id))
            assert (answer.deleted if answer else None) == deleted

    def cancel(self, job_id: str) -> None:
        expected = self.model.request_cancel(job_id)
        got = self.run(self.api.request_cancel(job_id, self.now, RETENTION))
        assert (got.outcome if got else None) == expected
        if got is not None:
            assert got.job == self.run(self.row(job_id))

    # -- the promises, after every step ---------------------------------------------
    @invariant()
    def store_matches_model(self) -> None:
        self.run(self._check())

    async def _check(self) -> None:
        # One list read for every unexpired job (which also checks list_jobs: newest
        # first, all of them), a read of each expired one, and the new events of each
        # job whose version moved: every row is compared at every step.
        page = await self.api.list_jobs(ListQuery(owner=None, limit=1000), self.now)
        assert page.next_cursor is None
        listed = {job.id: job for job in page.items}
        unexpired = [m for m in self.model.jobs.values() if not m.expired(self.now)]
        unexpired.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        assert list(listed) == [m.id for m in unexpired]
        for job_id in self.model.deleted - self.gone:
            assert await self.api.get_job(job_id) is None, f"{job_id} was deleted"
            assert await self.api.events_after(job_id, 0) == []
            self.gone.add(job_id)
        for m in self.model.jobs.values():
            job = listed.get(m.id) or await self.api.get_job(m.id)
            assert job is not None, f"{m.id} is missing"
            _same(job, m)
            last = self.versions.get(m.id, 0)
            events = [] if job.version == last else await self.api.events_after(m.id, last)
            self._check_history(job, [(e.version, e.kind, e.status) for e in events])
        counts = await self.api.job_counts(None, self.now)
        assert Counter({(c.operation, c.status): c.count for c in counts}) == self.model.counts()

    def _check_history(self, job: Job, events: list[tuple[int, str, Status]]) -> None:
        last = self.versions.get(job.id, 0)
        assert job.version >= last, "a version went backwards"
        assert [v for v, _, _ in events] == list(range(last + 1, job.version + 1))
        if events:
            assert events[-1][2] is job.status
        self.terminal_events[job.id] += sum(kind in TERMINAL_KINDS for _, kind, _ in events)
        self.versions[job.id] = job.version
        if job.status in TERMINAL:
            assert self.terminal_events[job.id] == 1, "exactly one terminal event"
            first = self.finals.setdefault(job.id, job)
            assert _unkeyed(job) == _unkeyed(first), "a terminal job changed"
        else:
            assert self.terminal_events[job.id] == 0
        if job.status is Status.QUEUED or job.status in TERMINAL:
            assert (job.lease_token, job.lease_expires_at) == (None, None), "leased yet not running"
        else:
            assert job.lease_token is not None and job.lease_expires_at is not None


def _unkeyed(job: Job) -> Job:
    """A job without its idempotency bookkeeping, which a sweep or a later submit may
    release from a terminal job without changing it."""
    return dataclasses.replace(job, idempotency_key=None, request_fingerprint=None)


def _same(job: Job, m: ModelJob) -> None:
    got = {f: getattr(job, f) for f in _COMPARED}
    got["token"] = job.lease_token
    got["key"], got["fingerprint"] = job.idempotency_key, job.request_fingerprint
    want = {f: getattr(m, f) for f in (*_COMPARED, "token", "key", "fingerprint")}
    assert got == want, {k: (got[k], want[k]) for k in got if got[k] != want[k]}


_COMPARED = (
    "id",
    "operation",
    "priority",
    "max_attempts",
    "status",
    "version",
    "attempt",
    "cancel_requested",
    "progress_pct",
    "step",
    "lease_expires_at",
    "worker_id",
    "run_at",
    "created_at",
    "started_at",
    "finished_at",
    "expires_at",
    "result",
    "error",
)


async def _single(write: Any) -> bool:
    (held,) = await write
    return bool(held)


async def _stored(write: Any) -> bool:
    (job,) = await write
    return job is not None


def _run(kind: str, tmp_path: Path, profile: str) -> None:
    # The same name for every backend: derandomized examples are seeded from it, so each
    # backend runs the same sequence of steps (a step that fails on one backend only is
    # a difference between backends).
    machine = type("StoreMachine", (StoreMachine,), {"kind": kind, "base": tmp_path})
    run_state_machine_as_test(machine, settings=settings.get_profile(profile))


@pytest.mark.timeout(900)  # a failure's shrinking may take minutes; passing runs take seconds
@pytest.mark.parametrize("kind", BACKENDS)
def test_store_follows_the_model(kind: str, tmp_path: Path) -> None:
    _run(kind, tmp_path, "lro-model")


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("kind", BACKENDS)
def test_store_follows_the_model_at_length(kind: str, tmp_path: Path) -> None:
    _run(kind, tmp_path, "lro-model-slow")
