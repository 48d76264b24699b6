"""The worker's side of hand-off on PostgreSQL (worker/handoff.py): an idle worker parks
and starts submitted jobs without claiming them; a full one withdraws; a lost hand-off is
found again after a reconnect. Two LROs on one database stand in for an API process and a
worker process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel
from tests.worker.helpers import running_worker, wait_job

from lro import LRO, JobContext, Settings, Status
from lro.serving import create_app
from lro.store.postgres import PostgresStore
from lro.worker import Worker

pytestmark = pytest.mark.postgres


class Gate(BaseModel):
    n: int


def make_app(url: str, tmp_path: Path, gates: dict[int, asyncio.Event]) -> LRO:
    settings = Settings(
        result_dir=str(tmp_path / "results"),
        lease_seconds=30,
        progress_flush_seconds=0.02,
        retry_base_seconds=0,
        shutdown_grace_seconds=5,
        sweep_interval_seconds=3600,
    )
    app = LRO(store=url, settings=settings)

    @app.operation("gate", max_attempts=1)
    async def gate(ctx: JobContext, params: Gate) -> int:
        if params.n in gates:
            await gates[params.n].wait()
        return params.n

    return app


Apps = tuple[LRO, LRO, dict[int, asyncio.Event]]


@pytest.fixture
async def apps(pg_url: str, tmp_path: Path) -> AsyncIterator[Apps]:
    gates: dict[int, asyncio.Event] = {}
    api, work = make_app(pg_url, tmp_path, gates), make_app(pg_url, tmp_path, gates)
    await api.start()
    await work.start()
    try:
        yield api, work, gates
    finally:
        for gate in gates.values():
            gate.set()
        await work.stop()
        await api.stop()


async def until_parked(worker: Worker) -> None:
    await worker.wait_for(lambda _: worker._handoff is not None and worker._handoff.parked, 5)


async def test_an_idle_worker_starts_submitted_jobs_without_claiming(apps: Apps) -> None:
    api, work, _ = apps
    async with running_worker(work, concurrency=2) as worker:
        for n in range(3):
            await until_parked(worker)
            job = await api.submit("gate", {"n": n})
            assert job.status is Status.PROCESSING and job.worker_id == worker.id
            done = await wait_job(api, job.id)
            assert (done.status, done.result, done.attempt) == (Status.COMPLETED, n, 1)
        assert (worker.stats.handed, worker.stats.claimed) == (3, 0)


async def test_a_full_worker_withdraws_and_claims_later(apps: Apps) -> None:
    api, work, gates = apps
    gates[1] = asyncio.Event()
    async with running_worker(work, concurrency=1) as worker:
        await until_parked(worker)
        first = await api.submit("gate", {"n": 1})  # handed off; holds the only slot
        await wait_job(api, first.id, lambda j: j.status is Status.PROCESSING)
        await worker.wait_for(lambda _: not worker._handoff.parked, 5)  # type: ignore[union-attr]
        second = await api.submit("gate", {"n": 2})
        assert second.status is Status.QUEUED  # nobody parked: it waits in the queue
        gates[1].set()
        done = await wait_job(api, second.id)
        assert done.status is Status.COMPLETED
        assert (worker.stats.handed, worker.stats.claimed) == (1, 1)


async def test_a_hand_off_lost_with_the_connection_is_found_after_reconnect(apps: Apps) -> None:
    """The notification of a hand-off dies with the worker's LISTEN session; the job is
    leased to the worker in the store. The reconnect's sweep finds and runs it, on the
    same attempt, long before its lease would have expired."""
    api, work, _ = apps
    async with running_worker(work, concurrency=2) as worker:
        await until_parked(worker)
        store = work.store
        assert isinstance(store, PostgresStore) and store.handoffs is not None
        # Drop hand-off notifications on the floor, as a dead connection would.
        deliver = store.handoffs.deliver
        store.handoffs.deliver = lambda payload: None  # type: ignore[method-assign]
        job = await api.submit("gate", {"n": 5})
        assert job.worker_id == worker.id
        store.handoffs.deliver = deliver  # type: ignore[method-assign]
        store.listening.clear()
        await api.store.db.fetch_sql(  # type: ignore[attr-defined]
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'lro-listen' AND pid <> pg_backend_pid()"
        )
        done = await wait_job(api, job.id)
        assert (done.status, done.result, done.attempt) == (Status.COMPLETED, 5, 1)
        assert worker.stats.handed == 1


async def test_a_stopping_worker_leaves_no_park(apps: Apps) -> None:
    api, work, _ = apps
    async with running_worker(work, concurrency=2) as worker:
        await until_parked(worker)
    rows = await api.store.db.fetch_sql("SELECT worker_id FROM lro_idle_workers")  # type: ignore[attr-defined]
    assert rows == []
    job = await api.submit("gate", {"n": 1})
    assert job.status is Status.QUEUED


async def test_the_202_is_the_receipt_of_the_submit(apps: Apps) -> None:
    """A handed-off job is stored as version 1 queued and version 2 processing; the 202
    shows version 1, what was accepted, and polling shows the rest."""
    api, work, _ = apps
    transport = httpx.ASGITransport(app=create_app(api))
    async with (
        running_worker(work, concurrency=2) as worker,
        httpx.AsyncClient(transport=transport, base_url="http://lro.test") as client,
    ):
        await until_parked(worker)
        answer = await client.post("/api/v1/jobs", json={"operation": "gate", "params": {"n": 3}})
        assert answer.status_code == 202
        body = answer.json()
        assert (body["status"], body["attempt"], body.get("started_at")) == ("queued", 0, None)
        stored = await api.store.get_job(body["job_id"])
        assert stored is not None and stored.worker_id == worker.id and stored.version >= 2
        done = await wait_job(api, body["job_id"])
        polled = (await client.get(f"/api/v1/jobs/{body['job_id']}")).json()
        assert (polled["status"], polled["attempt"]) == ("completed", 1)
        assert done.status is Status.COMPLETED
