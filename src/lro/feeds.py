"""Per-job fan-out: one store read per change of a job, however many clients follow it.

SSE streams, long polls and `Prefer: wait` requests subscribe to a job's `Feed`. When the
change hub hears of a change to that job, the feed reads the job's new events and the job
itself once and hands the same `Snapshot` to every subscriber; a thousand clients watching
cost a thousand slots in memory, not a thousand queries.

Each subscription keeps only the latest snapshot (a slot, not a queue), so a slow client
cannot make the process hold an ever-growing backlog. That is safe because every snapshot
carries all events after its `floor`, and the floor is the lowest cursor among the
subscribers when the read began: the newest snapshot therefore holds everything a
subscriber has not seen yet. A subscriber whose cursor is below a snapshot's floor (it
joined while a read was in flight) reads its own gap from the store: correct first,
shared when possible.

The feeds of one process also share their reads with each other: the feeds that changes
made due are read together, one store call (`jobs_with_events`) for all of them, at most
`MAX_READS_IN_FLIGHT` such calls at once. A quiet job is read as soon as it changes; a
thousand jobs changing at once cost a few round trips, not a thousand (one per change was
most of an API process's CPU at 2,000 changes a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from lro.models import Job
from lro.store.base import JobEvent, Store

log = logging.getLogger("lro.feeds")

READ_RETRY_SECONDS = 0.1
MAX_READ_RETRY_SECONDS = 2.0

MAX_BATCH = 200
"""Feeds read by one store call at most (bounds the statement and its answer)."""

MAX_READS_IN_FLIGHT = 2
"""Store calls reading feeds at once; changes that arrive meanwhile wait for the next
call and are read together with the others that came with them."""

EVENTS_NOT_READ = 2**62
"""The floor of a snapshot read only for the job (no subscriber wanted events)."""


async def wait_set(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set; False after `timeout` seconds.

    Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives with the
    event, and a stream whose client left would go on forever."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A job's events with version > `floor`, then the job as read after them (None once
    the job is deleted). `job.version` is at least the last event's version."""

    floor: int
    events: tuple[JobEvent, ...]
    job: Job | None
    rendered: dict[tuple[int, str, str], bytes] = field(default_factory=dict, compare=False)
    """Encoded SSE frames by (version, event name, API base path), rendered once and sent
    to every follower (JSON and frame encoding were a tenth of a stream's CPU when each
    follower rendered its own)."""


class Subscription:
    """One follower of a job. `cursor` is the last version it has handled (None until it
    has seen any state); it bounds the feed's reads, so it must be kept current."""

    def __init__(self, feed: Feed, cursor: int | None) -> None:
        self.feed = feed
        self.cursor = cursor
        self._latest: Snapshot | None = None
        self._ready = asyncio.Event()

    def offer(self, snapshot: Snapshot) -> None:
        self._latest = snapshot
        self._ready.set()

    async def next(self, timeout: float) -> Snapshot | None:
        """The newest snapshot since the last call, or None after `timeout` seconds."""
        if not await wait_set(self._ready, timeout):
            return None
        self._ready.clear()
        snapshot, self._latest = self._latest, None
        return snapshot

    async def events_since_cursor(self, snapshot: Snapshot) -> list[JobEvent]:
        """The events after this subscriber's cursor up to the snapshot's job: from the
        snapshot when it reaches back far enough, else read from the store."""
        after = self.cursor if self.cursor is not None else 0
        if snapshot.floor <= after:
            return [e for e in snapshot.events if e.version > after]
        events = await self.feed.store.events_after(self.feed.job_id, after)
        limit = snapshot.job.version if snapshot.job is not None else None
        return [e for e in events if limit is None or e.version <= limit]


class Feed:
    """Followers of one job; its reads are made by `Feeds`, together with other feeds'."""

    def __init__(self, feeds: Feeds, job_id: str) -> None:
        self.feeds = feeds
        self.job_id = job_id
        self.subscribers: set[Subscription] = set()
        self.reading = False
        """In a store call now; a change meanwhile sets `again` instead of a second read."""
        self.again = False

    @property
    def store(self) -> Store:
        return self.feeds.store

    def refresh(self) -> None:
        """Read the job for all subscribers; coalesced while a read is in flight."""
        if self.reading:
            self.again = True
        else:
            self.feeds.due(self)

    def wanted(self) -> int:
        """The floor of the next read: the lowest cursor among the subscribers, or
        EVENTS_NOT_READ when none needs events yet (waiters, streams before their first)."""
        cursors = [s.cursor for s in self.subscribers if s.cursor is not None]
        return min(cursors) if cursors else EVENTS_NOT_READ


class Feeds:
    """All feeds of one process, keyed by job id; fed by the change hub."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._feeds: dict[str, Feed] = {}
        self._due: dict[Feed, None] = {}
        """Feeds waiting for a read, in the order their changes came (an ordered set)."""
        self._in_flight = 0
        self._scheduled = False
        self._retry_delay = READ_RETRY_SECONDS
        self._tasks: set[asyncio.Task[None]] = set()
        """The reads in flight, held so that they are not garbage-collected mid-read."""

    def changed(self, job_id: str) -> None:
        feed = self._feeds.get(job_id)
        if feed is not None:
            feed.refresh()

    def due(self, feed: Feed) -> None:
        """Read `feed` with the next store call. The call starts on the next turn of the
        loop, so the changes of one notification (or one commit) are read together."""
        self._due[feed] = None
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start_reads)

    def _start_reads(self) -> None:
        self._scheduled = False
        loop = asyncio.get_running_loop()
        while self._due and self._in_flight < MAX_READS_IN_FLIGHT:
            batch: list[Feed] = []
            while self._due and len(batch) < MAX_BATCH:
                feed = next(iter(self._due))
                del self._due[feed]
                if feed.subscribers:  # nobody left to tell: no read
                    feed.reading, feed.again = True, False
                    batch.append(feed)
            if batch:
                self._in_flight += 1
                task = loop.create_task(self._read(batch))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _read(self, batch: list[Feed]) -> None:
        try:
            floors = [feed.wanted() for feed in batch]
            try:
                answers = await self.store.jobs_with_events(
                    [(feed.job_id, floor) for feed, floor in zip(batch, floors, strict=True)]
                )
            except Exception as exc:
                # Busy or unreachable store: try again soon rather than leaving the
                # followers to their slow re-check, backing off while it lasts.
                log.info("reading %d followed jobs failed: %r", len(batch), exc)
                await asyncio.sleep(self._retry_delay)
                self._retry_delay = min(self._retry_delay * 2, MAX_READ_RETRY_SECONDS)
                for feed in batch:
                    feed.again = True
                return
            self._retry_delay = READ_RETRY_SECONDS
            for feed, floor, (job, events) in zip(batch, floors, answers, strict=True):
                snapshot = Snapshot(floor, tuple(events), job)
                for sub in tuple(feed.subscribers):
                    sub.offer(snapshot)
        finally:
            self._in_flight -= 1
            for feed in batch:
                feed.reading = False
                if feed.again and feed.subscribers:
                    self._due[feed] = None
            if self._due:
                self._schedule()

    def close(self) -> None:
        for feed in self._feeds.values():
            for sub in feed.subscribers:
                sub.offer(Snapshot(EVENTS_NOT_READ, (), None))

    @contextlib.contextmanager
    def subscribe(self, job_id: str, cursor: int | None = None) -> Iterator[Subscription]:
        """Follow a job; the first snapshot is read at once, so the subscriber needs no
        read of its own before waiting (and cannot miss a change made meanwhile)."""
        feed = self._feeds.get(job_id)
        if feed is None:
            feed = self._feeds[job_id] = Feed(self, job_id)
        sub = Subscription(feed, cursor)
        feed.subscribers.add(sub)
        try:
            feed.refresh()
            yield sub
        finally:
            feed.subscribers.discard(sub)
            if not feed.subscribers and self._feeds.get(job_id) is feed:
                del self._feeds[job_id]

    def __len__(self) -> int:
        return len(self._feeds)
