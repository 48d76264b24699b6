"""Fan-out for the live job list: one store read per changed job per tick, whatever the
number of lists watching (GET /api/v1/jobs/events).

The change hub calls `JobLists.changed` with every job change it hears of, from this
process or another (the same feed the per-job streams use: SQLite's event poll,
PostgreSQL's LISTEN/NOTIFY, Redis's stream). Changes are gathered for a short tick, so a
job that moved ten times in it is read once, and its latest state is what every
subscriber is offered; a tick is at most `TICK_SECONDS` long, which bounds how often a
list is written to. Each subscriber filters the read jobs in memory by its own scope and
filters, exactly as `Store.list_jobs` would, and keeps per job only the latest item it has
not sent yet (a slot per job, not a queue), so a slow client cannot make the process hold
a backlog. When more jobs change in a tick than a list should be sent one by one, the
subscriber is told to resync (read its page again) instead: the cost of a storm stays
bounded, and nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lro.feeds import wait_set
from lro.models import Job, Status, utcnow
from lro.store.base import Store

log = logging.getLogger("lro.feeds")

TICK_SECONDS = 0.25
"""How long changes are gathered before the changed jobs are read: at most four writes a
second to a list, however many jobs change."""

MAX_READS_PER_TICK = 200
"""More changed jobs than this in one tick: subscribers resync instead of being sent them."""

MAX_PENDING = 200
"""Items one subscriber may have unsent before it is told to resync instead."""

REMEMBERED = 10_000
"""Jobs whose last status the fan-out (and each subscriber's sent set) remembers."""

READS_AT_ONCE = 16


@dataclass(frozen=True, slots=True)
class ListFilter:
    """Whose jobs and which: the scope and filters of `GET /api/v1/jobs`, held in memory.
    `text` is lower case (a job id prefix, or a substring of the step or error title)."""

    owner: str | None
    """None: every owner's jobs (an admin)."""
    statuses: frozenset[Status] = frozenset()
    operation: str | None = None
    tags: tuple[str, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str | None = None

    def sees(self, job: Job) -> bool:
        return self.owner is None or job.owner == self.owner

    def matches(self, job: Job, now: datetime) -> bool:
        """Whether `Store.list_jobs` with these filters would list `job`."""
        return self.matches_but_status(job, now) and (
            not self.statuses or job.status in self.statuses
        )

    def matches_but_status(self, job: Job, now: datetime) -> bool:
        """`matches` without the status filter: the job would be listed in another status."""
        if not self.sees(job) or job.is_expired(now):
            return False
        if self.operation is not None and job.operation != self.operation:
            return False
        if any(tag not in job.tags for tag in self.tags):
            return False
        if self.created_after is not None and not job.created_at > self.created_after:
            return False
        if self.created_before is not None and not job.created_at < self.created_before:
            return False
        return self.text is None or _has_text(job, self.text)


def _has_text(job: Job, text: str) -> bool:
    if job.id.startswith(text):
        return True
    if job.step is not None and text in job.step.lower():
        return True
    return job.error is not None and text in (job.error.title or "").lower()


@dataclass(frozen=True, slots=True)
class Read:
    """One changed job as read after a tick: None once deleted. `status_moved`: its status
    differs from the one last read (or none was, past its first version), so a list
    filtered by status may have to drop it even though it never sent it (it came with
    the page the client read)."""

    job_id: str
    job: Job | None
    status_moved: bool


@dataclass(slots=True)
class Batch:
    """What a subscriber has to send: `resync` (read the list again), then `items`, each
    a job to show or a job id to drop (`Job` or `str`), one per job, the latest."""

    resync: bool = False
    items: list[Job | str] = field(default_factory=list)
    closed: bool = False


class ListSubscription:
    """One live list: its filter, the latest unsent item per job, and the jobs it sent."""

    def __init__(self, lists: JobLists, flt: ListFilter, max_pending: int) -> None:
        self.lists = lists
        self.filter = flt
        self._max_pending = max_pending
        self._pending: dict[str, Job | str] = {}
        self._resync = False
        self._closed = False
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._ready = asyncio.Event()

    def offer(self, reads: Sequence[Read], now: datetime) -> None:
        for read in reads:
            job = read.job
            if job is not None and self.filter.matches(job, now):
                self._pending[read.job_id] = job
            elif read.job_id in self._sent or (
                job is not None and read.status_moved and self.filter.matches_but_status(job, now)
            ):
                # It left the list (another status, deleted, expired): the client drops
                # it. Only a job this list may show: never another principal's.
                self._pending[read.job_id] = read.job_id
                self._sent.pop(read.job_id, None)
        if len(self._pending) > self._max_pending:
            self.resync()
        elif self._pending:
            self._ready.set()

    def resync(self) -> None:
        self._pending.clear()
        self._resync = True
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    def sent(self, job_id: str) -> None:
        """Remember that the client shows `job_id`, so its leaving is told too."""
        self._sent[job_id] = None
        self._sent.move_to_end(job_id)
        if len(self._sent) > REMEMBERED:
            self._sent.popitem(last=False)

    async def next(self, timeout: float) -> Batch | None:
        """What to send since the last call, or None after `timeout` seconds."""
        if not await wait_set(self._ready, timeout):
            return None
        self._ready.clear()
        batch = Batch(self._resync, list(self._pending.values()), self._closed)
        self._pending.clear()
        self._resync = False
        return batch


class JobLists:
    """Every live list of one process and the tick that reads changed jobs for them."""

    def __init__(
        self,
        store: Store,
        tick_seconds: float = TICK_SECONDS,
        max_reads: int = MAX_READS_PER_TICK,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._store = store
        self._tick = tick_seconds
        self._max_reads = max_reads
        self._max_pending = max_pending
        self.subscribers: set[ListSubscription] = set()
        self._dirty: dict[str, None] = {}
        self._overflow = False
        self._task: asyncio.Task[None] | None = None
        self._statuses: OrderedDict[str, Status] = OrderedDict()

    def changed(self, job_id: str) -> None:
        if not self.subscribers:
            return
        if job_id not in self._dirty:
            if len(self._dirty) >= self._max_reads:
                self._overflow = True  # too many to read: every list resyncs instead
            else:
                self._dirty[job_id] = None
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while self.subscribers and (self._dirty or self._overflow):
                await asyncio.sleep(self._tick)  # gather: a job read once per tick
                ids, self._dirty = list(self._dirty), {}
                overflow, self._overflow = self._overflow, False
                if overflow:
                    for sub in tuple(self.subscribers):
                        sub.resync()
                    continue
                try:
                    reads = await self._read(ids)
                except Exception as exc:
                    # Busy or unreachable store: the lists read their pages again later.
                    log.info("reading %d changed jobs for the job lists failed: %r", len(ids), exc)
                    for sub in tuple(self.subscribers):
                        sub.resync()
                    continue
                now = utcnow()
                for sub in tuple(self.subscribers):
                    sub.offer(reads, now)
        finally:
            self._task = None

    async def _read(self, ids: list[str]) -> list[Read]:
        jobs: list[Job | None] = []
        for start in range(0, len(ids), READS_AT_ONCE):
            chunk = ids[start : start + READS_AT_ONCE]
            jobs.extend(await asyncio.gather(*(self._store.get_job(i) for i in chunk)))
        return [self._remember(job_id, job) for job_id, job in zip(ids, jobs, strict=True)]

    def _remember(self, job_id: str, job: Job | None) -> Read:
        before = self._statuses.pop(job_id, None)
        if job is None:
            return Read(job_id, None, True)
        self._statuses[job_id] = job.status
        if len(self._statuses) > REMEMBERED:
            self._statuses.popitem(last=False)
        # A job at version 1 was just submitted: no page can have shown it in another status.
        return Read(job_id, job, job.version > 1 and before is not job.status)

    def close(self) -> None:
        for sub in tuple(self.subscribers):
            sub.close()

    @contextlib.contextmanager
    def subscribe(self, flt: ListFilter) -> Iterator[ListSubscription]:
        """Follow the jobs `flt` lists. Subscribe before reading the page to show: a
        change committed meanwhile still arrives (a job may come both ways; the later
        `updated_at` wins at the client)."""
        sub = ListSubscription(self, flt, self._max_pending)
        self.subscribers.add(sub)
        try:
            yield sub
        finally:
            self.subscribers.discard(sub)
