"""Batches over HTTP and in Python (HTTP-CONTRACT §17): all-or-nothing with pointers,
idempotent, scoped, polled with counts, and one signed `batch.completed` webhook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.helpers import PREFIX, assert_problem, claim, complete, count_jobs, fail, make_lro

from lro import LRO
from lro.errors import Unprocessable
from lro.testing import run

ECHO = {"operation": "echo", "params": {"text": "a"}}


async def test_a_batch_is_202_then_polled_until_every_job_ended(
    client: httpx.AsyncClient, lro: LRO
) -> None:
    body = {"jobs": [ECHO, {**ECHO, "tags": ["t"], "priority": 2}, {"operation": "ping"}]}
    r = await client.post(f"{PREFIX}/batches", json=body)
    assert r.status_code == 202, r.text
    batch = r.json()
    assert r.headers["location"] == batch["poll_url"] == f"{PREFIX}/batches/{batch['batch_id']}"
    assert int(r.headers["retry-after"]) >= 1
    assert batch["status"] == "queued" and batch["total"] == 3 and batch["progress_pct"] == 0
    assert batch["counts"] == {
        "queued": 3,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
    }
    jobs = batch["jobs"]
    assert [j["operation"] for j in jobs] == ["echo", "echo", "ping"]
    assert all(j["batch_id"] == batch["batch_id"] for j in jobs)
    assert jobs[1]["tags"] == ["t"]
    stored = await lro.store.get_job(jobs[1]["job_id"])
    assert (
        stored is not None and stored.priority == 2 and stored.params == {"text": "a", "count": 1}
    )

    first = await claim(lro)  # the priority-2 job
    polled = await client.get(batch["poll_url"])
    assert polled.status_code == 200 and "retry-after" in polled.headers
    assert polled.json()["status"] == "processing"
    await complete(lro, first)
    await fail(lro, await claim(lro))
    await client.post(f"{PREFIX}/jobs/{jobs[2]['job_id']}/cancel")
    done = await client.get(batch["poll_url"])
    assert done.status_code == 200 and "retry-after" not in done.headers
    doc = done.json()
    assert doc["status"] == "completed" and doc["progress_pct"] == 100
    assert (doc["counts"]["completed"], doc["counts"]["failed"]) == (1, 1)
    assert doc["counts"]["cancelled"] == 1 and doc["finished_at"] is not None


async def test_one_bad_job_rejects_the_batch_with_pointers(
    client: httpx.AsyncClient, lro: LRO
) -> None:
    body = {
        "jobs": [
            ECHO,
            {"operation": "nope"},
            {"operation": "echo", "params": {"count": 99}},
            {**ECHO, "tags": [""]},
            {**ECHO, "metadata": [1]},
            {**ECHO, "surprise": 1},
        ]
    }
    r = await client.post(f"{PREFIX}/batches", json=body)
    problem = assert_problem(r, 422)
    pointers = {e["pointer"] for e in problem["errors"]}
    assert "/jobs/5/surprise" in pointers
    body["jobs"].pop()
    r = await client.post(f"{PREFIX}/batches", json=body)
    problem = assert_problem(r, 422)
    pointers = {e["pointer"] for e in problem["errors"]}
    assert pointers >= {
        "/jobs/1/operation",
        "/jobs/2/params/text",
        "/jobs/2/params/count",
        "/jobs/3/tags/0",
        "/jobs/4/metadata",
    }, pointers
    assert not any(p.startswith("/jobs/0") for p in pointers)
    for bad in ({"jobs": []}, {"jobs": "x"}, {"jobs": [1]}, {"jobs": [ECHO], "x": 1}, {}):
        assert_problem(await client.post(f"{PREFIX}/batches", json=bad), 422)
    r = await client.post(f"{PREFIX}/batches", json={"jobs": [ECHO], "callback_url": "ftp://x"})
    assert [e["pointer"] for e in assert_problem(r, 422)["errors"]] == ["/callback_url"]
    assert await count_jobs(lro) == 0


async def test_more_than_1000_jobs_is_422(tmp_path: Path) -> None:
    lro = make_lro(tmp_path, max_body_bytes=1 << 20)
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            r = await c.post(f"{PREFIX}/batches", json={"jobs": [ECHO] * 1001})
            assert [e["pointer"] for e in assert_problem(r, 422)["errors"]] == ["/jobs"]
            r = await c.post(f"{PREFIX}/batches", json={"jobs": [ECHO] * 1000})
            assert r.status_code == 202 and r.json()["total"] == 1000
        batches = lro.store.batches
        assert batches is not None
        assert len(await batches.batch_jobs(r.json()["batch_id"])) == 1000
    finally:
        await lro.stop()


async def test_idempotency_key_replays_the_batch(client: httpx.AsyncClient, lro: LRO) -> None:
    body = {"jobs": [ECHO, ECHO]}
    headers = {"Idempotency-Key": "batch-1"}
    first = await client.post(f"{PREFIX}/batches", json=body, headers=headers)
    again = await client.post(f"{PREFIX}/batches", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["batch_id"] == first.json()["batch_id"]
    assert [j["job_id"] for j in again.json()["jobs"]] == [
        j["job_id"] for j in first.json()["jobs"]
    ]
    other = await client.post(f"{PREFIX}/batches", json={"jobs": [ECHO]}, headers=headers)
    assert assert_problem(other, 422)["type"].endswith("idempotency-mismatch")
    bad_key = await client.post(f"{PREFIX}/batches", json=body, headers={"Idempotency-Key": ""})
    assert_problem(bad_key, 400)
    assert await count_jobs(lro) == 2


async def test_batches_are_scoped_to_their_owner(tmp_path: Path) -> None:
    lro = make_lro(tmp_path, api_keys="alice:alice-key-0123,bob:bob-key-01234")
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            alice = {"Authorization": "Bearer alice-key-0123"}
            bob = {"Authorization": "Bearer bob-key-01234"}
            r = await c.post(f"{PREFIX}/batches", json={"jobs": [ECHO]}, headers=alice)
            url = r.json()["poll_url"]
            assert (await c.get(url, headers=alice)).status_code == 200
            assert_problem(await c.get(url, headers=bob), 404)
            assert_problem(await c.get(f"{PREFIX}/batches/nope", headers=alice), 404)
            job = r.json()["jobs"][0]["job_id"]
            assert_problem(await c.get(f"{PREFIX}/jobs/{job}", headers=bob), 404)
    finally:
        await lro.stop()


async def test_python_submit_batch_and_its_signed_webhook(tmp_path: Path) -> None:
    async with run(make_lro(tmp_path), path=tmp_path) as t:
        with pytest.raises(Unprocessable) as refused:
            await t.lro.submit_batch([ECHO, {"operation": "echo", "params": {}}])
        errors: Any = (refused.value.extensions or {})["errors"]
        assert [e["pointer"] for e in errors] == ["/jobs/1/params/text"]
        made = await t.lro.submit_batch(
            [ECHO, {"operation": "echo", "params": {"text": "b"}, "tags": ["x"]}],
            callback_url=t.webhooks.url,
        )
        assert made.created and made.batch.total == 2
        assert made.jobs[1].tags == ("x",) and made.jobs[1].batch_id == made.batch.id
        await t.run_until_idle()
        [hook] = await t.webhooks.wait_for(1)
        payload = hook.verify()
        assert payload["type"] == "batch.completed"
        data = payload["data"]
        assert data["batch_id"] == made.batch.id and data["status"] == "completed"
        assert data["counts"]["completed"] == 2 and data["progress_pct"] == 100
        assert [j["job_id"] for j in data["jobs"]] == [j.id for j in made.jobs]
        assert data["jobs"][1]["tags"] == ["x"]
        assert len(t.webhooks) == 1


async def test_batches_are_listed_newest_first_scoped_and_paged(tmp_path: Path) -> None:
    lro = make_lro(tmp_path, api_keys="alice:alice-key-0123,bob:bob-key-01234,admin:admin-key-0")
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            alice = {"Authorization": "Bearer alice-key-0123"}
            bob = {"Authorization": "Bearer bob-key-01234"}
            admin = {"Authorization": "Bearer admin-key-0"}
            made = []
            for headers in (alice, bob, alice, alice):
                r = await c.post(f"{PREFIX}/batches", json={"jobs": [ECHO, ECHO]}, headers=headers)
                assert r.status_code == 202, r.text
                made.append(r.json())
            alices = [made[3], made[2], made[0]]  # newest first
            first = await c.get(f"{PREFIX}/batches", params={"limit": 2}, headers=alice)
            assert first.status_code == 200, first.text
            page = first.json()
            assert [b["batch_id"] for b in page["items"]] == [b["batch_id"] for b in alices[:2]]
            item = page["items"][0]
            assert item == {k: v for k, v in made[3].items() if k != "jobs"}
            assert page["next_cursor"]
            rest = await c.get(
                f"{PREFIX}/batches",
                params={"limit": 2, "cursor": page["next_cursor"]},
                headers=alice,
            )
            assert [b["batch_id"] for b in rest.json()["items"]] == [alices[2]["batch_id"]]
            assert rest.json()["next_cursor"] is None
            bobs = (await c.get(f"{PREFIX}/batches", headers=bob)).json()["items"]
            assert [b["batch_id"] for b in bobs] == [made[1]["batch_id"]]
            everyone = (await c.get(f"{PREFIX}/batches", headers=admin)).json()["items"]
            assert [(b["batch_id"], b["owner"]) for b in everyone] == [
                (b["batch_id"], owner)
                for b, owner in zip(reversed(made), ["alice", "alice", "bob", "alice"], strict=True)
            ]
            bad = await c.get(f"{PREFIX}/batches", params={"cursor": "not-ours"}, headers=alice)
            assert assert_problem(bad, 400)["errors"][0]["pointer"] == "cursor"
            assert_problem(
                await c.get(f"{PREFIX}/batches", params={"limit": 0}, headers=alice), 400
            )
            assert_problem(await c.get(f"{PREFIX}/batches"), 401)
    finally:
        await lro.stop()
