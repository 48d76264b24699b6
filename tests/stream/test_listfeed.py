"""The live lists' fan-out (lro.listfeed) on a real store: one read per changed job per
tick for all lists, the latest state per job, and a resync instead of a storm."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from tests.api.helpers import claim, make_lro, progress
from tests.stream.test_feeds import count_calls

from lro import LRO, SubmitRequest
from lro.listfeed import Batch, JobLists, ListFilter, ListSubscription
from lro.models import Job

WAIT = 10.0


async def started(tmp_path: Path) -> LRO:
    lro = make_lro(tmp_path)
    await lro.start()
    return lro


async def until(sub: ListSubscription, done: Callable[[Job], bool]) -> list[Batch]:
    """Batches until one holds a job for which `done(job)` is true."""
    batches: list[Batch] = []
    while True:
        batch = await sub.next(WAIT)
        assert batch is not None, "nothing arrived"
        batches.append(batch)
        if any(isinstance(i, Job) and done(i) for i in batch.items):
            return batches


async def test_a_hundred_lists_cost_at_most_one_read_per_change(tmp_path: Path) -> None:
    lro = await started(tmp_path)
    try:
        with contextlib.ExitStack() as stack:
            subs = [
                stack.enter_context(lro.hub.lists.subscribe(ListFilter(owner="")))
                for _ in range(100)
            ]
            reads = count_calls(lro.store, "get_job")
            [job] = await lro.submit_many([SubmitRequest("echo", {"text": "x"})])
            running = await claim(lro)
            for pct in (10, 20, 30, 40):
                await progress(lro, running, pct)
            for sub in subs:
                batches = await until(sub, lambda j: j.progress_pct == 40)
                # Only this job, each batch one item per job: its latest state then.
                assert all(len(b.items) == 1 for b in batches)
                assert {i.id for b in batches for i in b.items if isinstance(i, Job)} == {job.id}
            # Six changes (submit, claim, four progresses): a hundred lists share the reads.
            assert 1 <= reads[0] <= 6
    finally:
        await lro.stop()


async def test_more_changed_jobs_than_a_tick_reads_is_a_resync(tmp_path: Path) -> None:
    lro = await started(tmp_path)
    try:
        lists = JobLists(lro.store, max_reads=3)
        reads = count_calls(lro.store, "get_job")
        with lists.subscribe(ListFilter(owner=None)) as sub:
            for i in range(5):  # all within one tick: the tick has not run yet
                lists.changed(f"job-{i}")
            batch = await sub.next(WAIT)
            assert batch is not None
            assert (batch.resync, batch.items) == (True, [])
        assert reads[0] == 0  # nothing was read for the storm
    finally:
        await lro.stop()


async def test_more_unsent_items_than_a_list_holds_is_a_resync(tmp_path: Path) -> None:
    lro = await started(tmp_path)
    try:
        lists = JobLists(lro.store, max_pending=2)
        submitted = await lro.submit_many(
            [SubmitRequest("echo", {"text": str(i)}) for i in range(3)]
        )
        with lists.subscribe(ListFilter(owner="")) as sub:
            for job in submitted:
                lists.changed(job.id)
            batch = await sub.next(WAIT)
            assert batch is not None
            assert (batch.resync, batch.items) == (True, [])
    finally:
        await lro.stop()


async def test_another_owners_job_is_never_offered(tmp_path: Path) -> None:
    lro = await started(tmp_path)
    try:
        lists = JobLists(lro.store)
        [bobs] = await lro.submit_many([SubmitRequest("echo", {"text": "b"}, owner="bob")])
        [alices] = await lro.submit_many([SubmitRequest("echo", {"text": "a"}, owner="alice")])
        with lists.subscribe(ListFilter(owner="alice")) as sub:
            lists.changed(bobs.id)
            lists.changed(alices.id)
            batch = await sub.next(WAIT)
            assert batch is not None
            assert [i.id for i in batch.items if isinstance(i, Job)] == [alices.id]
            assert len(batch.items) == 1 and not batch.resync
    finally:
        await lro.stop()
