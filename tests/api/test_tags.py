"""Tags, metadata and the list filters over HTTP (HTTP-CONTRACT §15)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel
from tests.api.helpers import PREFIX, assert_problem, claim, count_jobs, fail, make_lro, progress

from lro import LRO, JobContext


async def test_tags_and_metadata_are_in_the_resource_not_in_params(
    client: httpx.AsyncClient, lro: LRO
) -> None:
    r = await client.post(
        f"{PREFIX}/echo",
        json={"text": "a", "tags": ["order:42", "eu", "eu"], "metadata": {"who": "ann"}},
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["tags"] == ["order:42", "eu"] and body["metadata"] == {"who": "ann"}
    job = await lro.store.get_job(body["job_id"])
    assert job is not None and job.params == {"text": "a", "count": 1}
    polled = (await client.get(body["poll_url"])).json()
    assert polled["tags"] == ["order:42", "eu"] and polled["metadata"] == {"who": "ann"}
    r = await client.post(
        f"{PREFIX}/jobs",
        json={"operation": "ping", "tags": ["x"], "metadata": {"a": [1]}},
    )
    assert r.status_code == 202, r.text
    assert r.json()["tags"] == ["x"] and r.json()["metadata"] == {"a": [1]}
    plain = (await client.post(f"{PREFIX}/echo", json={"text": "b"})).json()
    assert plain["tags"] == [] and plain["metadata"] == {}


async def test_bad_tags_and_metadata_are_422_with_pointers_and_store_nothing(
    client: httpx.AsyncClient, lro: LRO
) -> None:
    bad: list[tuple[dict[str, Any], str]] = [
        ({"tags": "x"}, "/tags"),
        ({"tags": [f"t{i}" for i in range(21)]}, "/tags"),
        ({"tags": ["ok", ""]}, "/tags/1"),
        ({"tags": ["ok", "x" * 65]}, "/tags/1"),
        ({"tags": ["a\nb"]}, "/tags/0"),
        ({"tags": [5]}, "/tags/0"),
        ({"metadata": [1]}, "/metadata"),
        ({"metadata": {"k": "a\u0000b"}}, "/metadata/k"),
    ]
    for extra, pointer in bad:
        for path, body in (
            (f"{PREFIX}/echo", {"text": "a", **extra}),
            (f"{PREFIX}/jobs", {"operation": "ping", **extra}),
        ):
            r = await client.post(path, json=body)
            problem = assert_problem(r, 422)
            assert any(e["pointer"] == pointer for e in problem["errors"]), (body, problem)
    assert await count_jobs(lro) == 0
    exactly = {"text": "a", "tags": ["x" * 64] * 1 + [f"t{i}" for i in range(19)]}
    assert (await client.post(f"{PREFIX}/echo", json=exactly)).status_code == 202


async def test_metadata_over_4_kib_is_422(tmp_path: Path) -> None:
    lro = make_lro(tmp_path, max_body_bytes=65536)
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            # {"b":"..."} is 8 bytes around the text: 4096 in all is allowed, 4097 is not.
            r = await c.post(f"{PREFIX}/echo", json={"text": "a", "metadata": {"b": "x" * 4089}})
            problem = assert_problem(r, 422)
            assert [e["pointer"] for e in problem["errors"]] == ["/metadata"]
            r = await c.post(f"{PREFIX}/echo", json={"text": "a", "metadata": {"b": "x" * 4088}})
            assert r.status_code == 202, r.text
    finally:
        await lro.stop()


async def test_list_filters_tag_time_and_text(client: httpx.AsyncClient, lro: LRO) -> None:
    async def submit(tags: list[str]) -> dict[str, Any]:
        r = await client.post(f"{PREFIX}/echo", json={"text": "a", "tags": tags})
        assert r.status_code == 202, r.text
        return dict(r.json())

    a = await submit(["x", "y"])
    b = await submit(["y"])
    c = await submit(["x", "y", "z"])

    async def ids(params: dict[str, Any] | list[tuple[str, str]]) -> list[str]:
        r = await client.get(f"{PREFIX}/jobs", params=params)
        assert r.status_code == 200, r.text
        return [j["job_id"] for j in r.json()["items"]]

    assert await ids([("tag", "y")]) == [c["job_id"], b["job_id"], a["job_id"]]
    assert await ids([("tag", "y"), ("tag", "x")]) == [c["job_id"], a["job_id"]]
    assert await ids({"created_after": b["created_at"]}) == [c["job_id"]]
    assert await ids({"created_before": b["created_at"], "tag": "y"}) == [a["job_id"]]
    assert await ids({"q": a["job_id"][:10]}) == [a["job_id"]]
    running = await claim(lro)
    await progress(lro, running, 5, "Reading the ledger")
    assert await ids({"q": "LEDGER"}) == [running.id]
    page = (await client.get(f"{PREFIX}/jobs", params={"tag": "y", "limit": 2})).json()
    rest = await ids({"tag": "y", "cursor": page["next_cursor"]})
    assert [j["job_id"] for j in page["items"]] + rest == [c["job_id"], b["job_id"], a["job_id"]]


async def test_failed_jobs_are_found_by_error_title(client: httpx.AsyncClient, lro: LRO) -> None:
    r = await client.post(f"{PREFIX}/echo", json={"text": "a"})
    job = await claim(lro)
    await fail(lro, job)
    title = (await client.get(r.json()["poll_url"])).json()["error"]["title"]
    found = (await client.get(f"{PREFIX}/jobs", params={"q": title[2:8].lower()})).json()
    assert [j["job_id"] for j in found["items"]] == [job.id]


async def test_malformed_filters_are_400(client: httpx.AsyncClient) -> None:
    for params in (
        {"created_after": "yesterday"},
        {"created_before": "2026-11-29T10:00:00"},  # no offset
        {"q": "a\u0000"},
        {"tag": "\u0000"},
    ):
        r = await client.get(f"{PREFIX}/jobs", params=params)
        assert_problem(r, 400)


async def test_tag_lists_are_scoped_to_the_caller(tmp_path: Path) -> None:
    lro = make_lro(tmp_path, api_keys="alice:alice-key-0123,bob:bob-key-01234")
    await lro.start()
    try:
        app = lro.create_app()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            alice = {"Authorization": "Bearer alice-key-0123"}
            bob = {"Authorization": "Bearer bob-key-01234"}
            body = {"text": "a", "tags": ["shared"]}
            mine = (await c.post(f"{PREFIX}/echo", json=body, headers=alice)).json()
            theirs = (await c.post(f"{PREFIX}/echo", json=body, headers=bob)).json()
            for headers, job in ((alice, mine), (bob, theirs)):
                r = await c.get(f"{PREFIX}/jobs", params={"tag": "shared"}, headers=headers)
                assert [j["job_id"] for j in r.json()["items"]] == [job["job_id"]]
    finally:
        await lro.stop()


class LookParams(BaseModel):
    n: int


async def test_handlers_read_tags_and_metadata_from_the_context(tmp_path: Path) -> None:
    lro = make_lro(tmp_path)
    seen: dict[str, Any] = {}

    @lro.operation("look", route="/look")
    async def look(ctx: JobContext, params: LookParams) -> dict[str, Any]:
        seen.update(tags=ctx.tags, metadata=ctx.metadata, params=ctx.params)
        return {"ok": True}

    app = lro.create_app(embedded_worker=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            r = await c.post(
                f"{PREFIX}/look",
                json={"n": 1, "tags": ["t"], "metadata": {"m": 2}},
                headers={"Prefer": "wait=5"},
            )
            assert r.status_code == 200, r.text
    assert seen == {"tags": ["t"], "metadata": {"m": 2}, "params": {"n": 1}}
    job = await lro.submit("look", {"n": 2}, tags=["lib"], metadata={"via": "python"})
    assert job.tags == ("lib",) and job.metadata == {"via": "python"} and job.params == {"n": 2}


async def test_tags_and_metadata_are_in_the_event_stream(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{PREFIX}/echo", json={"text": "a", "tags": ["sse"], "metadata": {"m": 1}}
    )
    job = r.json()
    await client.post(f"{PREFIX}/jobs/{job['job_id']}/cancel")  # terminal: the stream ends
    events = await client.get(job["events_url"])
    assert events.status_code == 200
    data = [json.loads(line[5:]) for line in events.text.splitlines() if line.startswith("data:")]
    assert data and all(d["tags"] == ["sse"] and d["metadata"] == {"m": 1} for d in data)
