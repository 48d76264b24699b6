"""What a real worker leaves behind in every result store: after a completion on a later
attempt, nothing of the earlier attempts; after a completion the fence refused, not its
own object; after any attempt, no staging files."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from tests.results.helpers import REPORT, Rig

from lro import JobContext
from lro.models import Job, Lease, ResultRef, Status, utcnow
from lro.results import File, ResultStore
from lro.retry import RetryPolicy
from lro.store import ClaimParams, RescueParams

WAIT = 20.0


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` (clean-ups run in the background) until it holds; fail after WAIT."""
    deadline = time.monotonic() + WAIT
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT} s: {what}")
        await asyncio.sleep(0.02)


async def finished(rig: Rig, job_id: str) -> Job:
    async def done() -> bool:
        job = await rig.lro.store.get_job(job_id)
        return job is not None and job.is_terminal

    await eventually(done, f"job {job_id} to finish")
    job = await rig.lro.store.get_job(job_id)
    assert job is not None
    return job


def no_staging(rig: Rig, job_id: str) -> bool:
    """No staging file in the job's folder. The clean-up may remove the folder itself
    while this looks (a glob then raises FileNotFoundError): gone is none left."""
    folder = rig.tmp_path / "results" / job_id
    try:
        return not any(p.name.endswith(".staging") for p in folder.iterdir())
    except FileNotFoundError:
        return True


async def until_no_staging(rig: Rig, job_id: str) -> None:
    """The attempt's staging is dropped by a clean-up task of its own, which may end
    after the one that deleted an object."""

    async def gone() -> bool:
        return no_staging(rig, job_id)

    await eventually(gone, "the attempts' staging files to be deleted")


async def test_a_later_attempts_completion_removes_what_earlier_attempts_stored(
    rig: Rig,
) -> None:
    job_id = await rig.submit("report")
    # Attempt 1 stores an object and loses its worker before completing (killed, or a
    # zombie that has not written its completion yet).
    lost = await rig.claim(job_id, lease_seconds=0.001)
    leftover = await rig.lro.result_store.put_bytes(lost, b"half a report", "text/csv")
    # Rescued as of a second later: past the 1 ms lease however fast put_bytes was.
    await rig.lro.store.rescue_expired(
        RescueParams(
            now=utcnow() + timedelta(seconds=1),
            retention_seconds=3600,
            retry=RetryPolicy(base_seconds=0),
        )
    )
    worker = rig.lro.worker(2)
    await worker.start()
    try:
        job = await finished(rig, job_id)
        assert (job.status, job.attempt) == (Status.COMPLETED, 2)
        assert job.result_ref is not None and job.result_ref.key != leftover.key

        async def leftover_gone() -> bool:
            return await rig.stored(job_id, leftover) is None

        await eventually(leftover_gone, "attempt 1's object to be deleted")
        assert await rig.stored(job_id, job.result_ref) == REPORT
        await until_no_staging(rig, job_id)
    finally:
        await worker.stop()
    r = await rig.client.get(rig.url(job_id))
    assert (r.status_code, r.content) == (200, REPORT)


class StealingStore:
    """The rig's own result store, except that while it stores a result another worker
    takes the job over: the loss lands after the worker's last look at its lease and
    before its completion, the window the fence alone closes."""

    def __init__(self, rig: Rig, inner: ResultStore) -> None:
        self._rig = rig
        self._inner = inner
        self.stored: list[ResultRef] = []
        self.thief: Lease | None = None

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def put_file(self, lease: Lease, file: File) -> ResultRef:
        ref = await self._inner.put_file(lease, file)
        store = self._rig.lro.store
        later = utcnow().replace(year=utcnow().year + 1)
        await store.rescue_expired(RescueParams(now=later, retention_seconds=3600))
        [job] = await store.claim_jobs(ClaimParams("thief", 1, 3600, later, None))
        assert job.lease_token is not None
        self.thief = Lease(job.id, job.lease_token)
        self.stored.append(ref)
        return ref


async def test_a_completion_the_fence_refused_leaves_no_object(rig: Rig) -> None:
    stealing = StealingStore(rig, rig.lro.result_store)
    rig.lro.result_store = stealing  # type: ignore[assignment]
    job_id = await rig.submit("report")
    worker = rig.lro.worker(2)
    await worker.start()
    try:
        await worker.wait_for(lambda s: s.lost == 1, WAIT)
        [refused] = stealing.stored
        assert stealing.thief is not None

        async def refused_gone() -> bool:
            return await rig.stored(job_id, refused) is None

        await eventually(refused_gone, "the refused result to be deleted")
        await until_no_staging(rig, job_id)
    finally:
        await worker.stop()
    job = await rig.lro.store.get_job(job_id)
    assert job is not None and job.status is Status.PROCESSING  # the thief's, untouched
    assert job.attempt == 2 and job.result_ref is None


async def test_staging_goes_with_every_outcome(rig: Rig) -> None:
    paths: list[Path] = []

    @rig.lro.operation("fails", max_attempts=1)
    async def fails(ctx: JobContext) -> None:
        path = ctx.result_path("partial.csv")
        path.write_bytes(b"half")
        paths.append(path)
        raise RuntimeError("broke half-way")

    job_id = await rig.submit("fails")
    worker = rig.lro.worker(2)
    await worker.start()
    try:
        job = await finished(rig, job_id)
        assert job.status is Status.FAILED

        async def staging_gone() -> bool:
            return not paths[0].exists() and no_staging(rig, job_id)

        await eventually(staging_gone, "the failed attempt's staging to be removed")
    finally:
        await worker.stop()
    assert not (rig.tmp_path / "results" / job_id).exists()
