"""The per-job fan-out (lro.feeds): followers of a job share one store read per change,
and a follower that joins while a read is in flight still misses nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.api.helpers import claim, lease, make_lro, progress

from lro import LRO, SubmitRequest
from lro.models import ProgressUpdate, utcnow
from lro.store.types import ClaimParams


def count_calls(obj: Any, name: str) -> list[int]:
    """Count calls of a real method (a spy: the method still runs)."""
    calls = [0]
    real: Callable[..., Awaitable[Any]] = getattr(obj, name)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await real(*args, **kwargs)

    setattr(obj, name, counted)
    return calls


async def started(tmp_path: Path) -> LRO:
    lro = make_lro(tmp_path)
    await lro.start()
    return lro


async def test_a_hundred_followers_cost_one_read_per_change(tmp_path: Path) -> None:
    lro = await started(tmp_path)
    try:
        [submitted] = await lro.submit_many([SubmitRequest("echo", {"text": "x"})])
        job_id = submitted.id
        with contextlib.ExitStack() as stack:
            subs = [stack.enter_context(lro.hub.feeds.subscribe(job_id)) for _ in range(100)]
            firsts = await asyncio.gather(*(s.next(5) for s in subs))
            assert all(f is not None and f.job is not None and f.job.version == 1 for f in firsts)
            for s in subs:
                s.cursor = 1
            reads = count_calls(lro.store, "jobs_with_events")
            job = await claim(lro)
            await progress(lro, job, 30)
            seen = await asyncio.gather(*(until_version(s, 3) for s in subs))
        assert all([e.version for e in events] == [2, 3] for events in seen)
        # Two changes, however many followers: one read (job and events together) per
        # change. SQLite also hears its own changes again through its event poll, so a
        # change may be read twice: never 100 times.
        assert 1 <= reads[0] <= 4
        assert len(lro.hub.feeds) == 0
    finally:
        await lro.stop()


async def test_jobs_changed_together_are_read_together(tmp_path: Path) -> None:
    """Fifty followed jobs moved by one commit: their feeds share a store call."""
    lro = await started(tmp_path)
    try:
        submitted = await lro.submit_many(
            [SubmitRequest("echo", {"text": str(i)}) for i in range(50)]
        )
        jobs = await lro.store.claim_jobs(
            ClaimParams(worker_id="w", limit=50, lease_seconds=60, now=utcnow())
        )
        assert len(jobs) == 50
        with contextlib.ExitStack() as stack:
            subs = [stack.enter_context(lro.hub.feeds.subscribe(j.id)) for j in submitted]
            firsts = await asyncio.gather(*(s.next(5) for s in subs))
            assert all(f is not None and f.job is not None for f in firsts)
            for s in subs:
                s.cursor = 2  # queued, then claimed
            reads = count_calls(lro.store, "jobs_with_events")
            held = await lro.store.set_progress(
                [ProgressUpdate(lease(j), 50, None) for j in jobs], utcnow()
            )
            assert all(held)
            seen = await asyncio.gather(*(until_version(s, 3) for s in subs))
        assert all([(e.version, e.progress_pct) for e in ev] == [(3, 50)] for ev in seen)
        # One commit, fifty changes: one store call reads them all (SQLite may hear its
        # own commit again through its event poll): never one call per job.
        assert 1 <= reads[0] <= 4
    finally:
        await lro.stop()


async def until_version(sub: Any, version: int) -> list[Any]:
    """Collect a follower's events until it has seen `version` (as an SSE stream does)."""
    events: list[Any] = []
    while sub.cursor < version:
        snapshot = await sub.next(5)
        assert snapshot is not None, "no snapshot within 5 s"
        for event in await sub.events_since_cursor(snapshot):
            events.append(event)
            sub.cursor = event.version
    return events


async def test_a_follower_behind_a_snapshot_reads_its_own_gap(tmp_path: Path) -> None:
    """A snapshot whose floor is above a follower's cursor (the read began before the
    follower said where it was) must not hide the events in between."""
    lro = await started(tmp_path)
    try:
        [submitted] = await lro.submit_many([SubmitRequest("echo", {"text": "x"})])
        job_id = submitted.id
        job = await claim(lro)
        await progress(lro, job, 10)
        with lro.hub.feeds.subscribe(job_id, cursor=3) as ahead:
            await ahead.next(5)
            with lro.hub.feeds.subscribe(job_id, cursor=None) as late:
                snapshot = await late.next(5)
                assert snapshot is not None
                late.cursor = 1  # as if it had only seen the queued state
                await progress(lro, job, 20)
                events = await until_version(late, 4)
        assert [e.version for e in events] == [2, 3, 4]
    finally:
        await lro.stop()
