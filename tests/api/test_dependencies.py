"""Dependencies over HTTP and in a running worker (HTTP-CONTRACT §17): waiting_on in the
resource, 422 for ids that are not the caller's, refs within a batch, and
ctx.dependency_results in the dependent's handler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel
from tests.api.helpers import PREFIX, assert_problem, claim, complete, fail, make_lro

from lro import LRO, JobContext
from lro.errors import JobError
from lro.models import ListQuery, utcnow
from lro.testing import run


async def test_a_single_submit_waits_on_its_dependency(client: httpx.AsyncClient, lro: LRO) -> None:
    first = (await client.post(f"{PREFIX}/echo", json={"text": "a"})).json()
    r = await client.post(
        f"{PREFIX}/jobs",
        json={"operation": "ping", "depends_on": [first["job_id"]]},
    )
    assert r.status_code == 202, r.text
    waiting = r.json()
    assert waiting["depends_on"] == waiting["waiting_on"] == [first["job_id"]]
    assert waiting["dependency_policy"] is None
    job = await claim(lro)  # only the echo job is due
    assert job.id == first["job_id"]
    await complete(lro, job)
    now = (await client.get(waiting["poll_url"])).json()
    assert now["status"] == "queued" and now["waiting_on"] == []
    assert (await claim(lro)).id == waiting["job_id"]


async def test_a_failed_dependency_fails_the_dependent(client: httpx.AsyncClient, lro: LRO) -> None:
    first = (await client.post(f"{PREFIX}/echo", json={"text": "a"})).json()
    body = {"text": "b", "depends_on": [first["job_id"]]}
    second = (await client.post(f"{PREFIX}/echo", json=body)).json()
    always = {**body, "dependency_policy": "always"}
    third = (await client.post(f"{PREFIX}/echo", json=always)).json()
    await fail(lro, await claim(lro))
    failed = (await client.get(second["poll_url"])).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "dependency_failed"
    runs = (await client.get(third["poll_url"])).json()
    assert runs["status"] == "queued" and runs["waiting_on"] == []


async def test_unknown_or_foreign_dependencies_are_422(tmp_path: Path) -> None:
    lro = make_lro(tmp_path, api_keys="alice:alice-key-0123,bob:bob-key-01234")
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            alice = {"Authorization": "Bearer alice-key-0123"}
            bob = {"Authorization": "Bearer bob-key-01234"}
            hers = (await c.post(f"{PREFIX}/echo", json={"text": "a"}, headers=alice)).json()
            for body, pointer in (
                ({"text": "b", "depends_on": ["nope"]}, "/depends_on/0"),
                ({"text": "b", "depends_on": [hers["job_id"]]}, "/depends_on/0"),
                ({"text": "b", "depends_on": "x"}, "/depends_on"),
                ({"text": "b", "dependency_policy": "sometimes"}, "/dependency_policy"),
            ):
                r = await c.post(f"{PREFIX}/echo", json=body, headers=bob)
                assert pointer in [e["pointer"] for e in assert_problem(r, 422)["errors"]], body
            batch = {"jobs": [{"operation": "ping", "depends_on": [hers["job_id"]]}]}
            r = await c.post(f"{PREFIX}/batches", json=batch, headers=bob)
            errors = assert_problem(r, 422)["errors"]
            assert [e["pointer"] for e in errors] == ["/jobs/0/depends_on/0"]
            late_ref = {
                "jobs": [
                    {"operation": "ping", "depends_on": ["later"]},
                    {"operation": "ping", "ref": "later"},
                ]
            }
            r = await c.post(f"{PREFIX}/batches", json=late_ref, headers=bob)
            assert [e["pointer"] for e in assert_problem(r, 422)["errors"]] == [
                "/jobs/0/depends_on/0"
            ]
            own = {"text": "b", "depends_on": [hers["job_id"]]}
            assert (await c.post(f"{PREFIX}/echo", json=own, headers=alice)).status_code == 202
        everyone = await lro.store.list_jobs(ListQuery(owner=None), utcnow())
        assert len(everyone.items) == 2  # nothing of the refused submits was stored
    finally:
        await lro.stop()


class Chunk(BaseModel):
    n: int


class Merge(BaseModel):
    pass


async def test_a_fan_in_batch_runs_the_merge_with_the_chunks_results(tmp_path: Path) -> None:
    app = make_lro(tmp_path)
    seen: dict[str, Any] = {}

    @app.operation("chunk")
    async def chunk(ctx: JobContext, params: Chunk) -> dict[str, int]:
        if params.n < 0:
            raise JobError("negative", code="negative", retryable=False)
        return {"rows": params.n}

    @app.operation("merge")
    async def merge(ctx: JobContext, params: Merge) -> int:
        seen[ctx.job_id] = ctx.dependency_results
        return sum(r["rows"] for r in ctx.dependency_results.values() if r is not None)

    async with run(app, path=tmp_path) as t:
        made = await t.lro.submit_batch(
            [
                {"operation": "chunk", "params": {"n": 2}, "ref": "a"},
                {"operation": "chunk", "params": {"n": 3}, "ref": "b"},
                {"operation": "merge", "depends_on": ["a", "b"]},
                {"operation": "chunk", "params": {"n": -1}, "ref": "bad"},
                {"operation": "merge", "depends_on": ["a", "bad"]},
                {"operation": "merge", "depends_on": ["bad"], "dependency_policy": "always"},
            ]
        )
        jobs = made.jobs
        assert jobs[2].waiting_on == (jobs[0].id, jobs[1].id)
        await t.run_until_idle()
        done = [await t.job(j.id) for j in jobs]
        assert [j.status.value for j in done] == [
            "completed",
            "completed",
            "completed",
            "failed",
            "failed",
            "completed",
        ]
        assert done[2].result == 5
        assert seen[jobs[2].id] == {jobs[0].id: {"rows": 2}, jobs[1].id: {"rows": 3}}
        assert done[4].error is not None and done[4].error.code == "dependency_failed"
        assert seen[jobs[5].id] == {jobs[3].id: None}
        batches = t.lro.store.batches
        assert batches is not None
        batch = await batches.get_batch(made.batch.id)
        assert batch is not None and batch.unfinished == 0
