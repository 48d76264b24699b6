"""A test rig per result store: an LRO on a real job store with that result store, an
httpx client on its ASGI app, and helpers that play the worker's part (claim, store a
result, complete) through the store's own verbs, so each attempt's lease is explicit."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from tests.support.s3 import S3Server

from lro import LRO, File, JobContext, Settings
from lro.models import Completion, Job, Lease, ResultRef, utcnow
from lro.retry import RetryPolicy
from lro.store import ClaimParams, RescueParams

PREFIX = "/api/v1"


async def noop(ctx: JobContext) -> None:
    """Jobs the test runs itself, playing the worker through the store's verbs."""


REPORT = b"".join(b"%d,line\n" % i for i in range(1, 20_001))


async def report(ctx: JobContext) -> File:
    """Jobs a real worker runs: a file written to the attempt's result path."""
    path = ctx.result_path("report.csv")
    path.write_bytes(REPORT)
    return File(path, content_type="text/csv")


@dataclass
class Rig:
    kind: str
    lro: LRO
    client: httpx.AsyncClient
    tmp_path: Path
    s3: S3Server | None = None
    bucket: str | None = None

    async def claim(
        self, job_id: str, now: datetime | None = None, lease_seconds: float = 60
    ) -> Lease:
        [job] = await self.lro.store.claim_jobs(
            ClaimParams("rig-worker", 1, lease_seconds, now or utcnow(), None)
        )
        assert job.id == job_id and job.lease_token is not None
        return Lease(job.id, job.lease_token)

    async def submit(self, operation: str = "noop") -> str:
        return (await self.lro.submit(operation)).id

    async def second_attempt(self, job_id: str) -> tuple[Lease, Lease]:
        """Two attempts of one job: the first lease expires and is rescued (the worker
        that held it is now a zombie), and a second claim takes the job over."""
        first = await self.claim(job_id)
        later = utcnow() + timedelta(seconds=120)
        rescued = await self.lro.store.rescue_expired(
            RescueParams(now=later, retention_seconds=3600, retry=RetryPolicy(base_seconds=0))
        )
        assert [j.id for j in rescued] == [job_id]
        second = await self.claim(job_id, later)
        assert second.token != first.token
        return first, second

    async def complete(self, lease: Lease, ref: ResultRef | None, retention: float = 3600) -> Job:
        [done] = await self.lro.store.complete_jobs(
            [Completion(lease, result_ref=ref)], utcnow(), retention
        )
        assert done is not None
        return done

    async def completed(self, data: bytes, retention: float = 3600) -> tuple[Job, ResultRef]:
        """A completed job whose result is `data` (a CSV file, `report.csv`)."""
        job_id = await self.submit()
        lease = await self.claim(job_id)
        ref = await self.lro.result_store.put_bytes(lease, data, "text/csv", "report.csv")
        return await self.complete(lease, ref, retention), ref

    async def stored(self, job_id: str, ref: ResultRef) -> bytes | None:
        """The stored object's bytes read through the protocol; None when it is gone."""
        from lro.results import ResultMissing, ResultRedirect

        try:
            body = await self.lro.result_store.open(job_id, ref)
            if isinstance(body, ResultRedirect):
                resp = await httpx.AsyncClient().get(body.url)
                return resp.content if resp.status_code == 200 else None
            return b"".join([piece async for piece in body.chunks(0, ref.size)])
        except ResultMissing:
            return None

    def url(self, job_id: str) -> str:
        return f"{PREFIX}/jobs/{job_id}/result"


@contextlib.asynccontextmanager
async def make_rig(
    kind: str, tmp_path: Path, s3: S3Server | None, **options: str
) -> AsyncIterator[Rig]:
    async with _store_url(kind, tmp_path) as store_url:
        bucket = None
        spec = {"file": "file", "db-sqlite": "db", "db-postgres": "db", "db-redis": "db"}.get(kind)
        if kind == "s3":
            assert s3 is not None
            bucket = s3.new_bucket()
            query = "&".join(f"{k}={v}" for k, v in options.items())
            spec = f"s3://{bucket}/results/v1" + (f"?{query}" if query else "")
        settings = Settings(
            store_url=store_url,
            result_dir=str(tmp_path / "results"),
            result_store=spec,
            retention_seconds=3600,
        )
        lro = LRO(settings=settings)
        lro.operation("noop")(noop)
        lro.operation("report")(report)
        await lro.start()
        try:
            transport = httpx.ASGITransport(app=lro.create_app())
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Rig(kind, lro, client, tmp_path, s3, bucket)
        finally:
            await lro.stop()


@contextlib.asynccontextmanager
async def _store_url(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "db-postgres":
        from tests.support.postgres import fresh_database

        async with fresh_database() as url:
            yield url
        return
    if kind == "db-redis":
        from tests.support.redis import fresh_url

        yield fresh_url()
        return
    yield f"sqlite:///{tmp_path / 'lro.db'}"
