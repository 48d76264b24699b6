"""The fast paths of the poll and the submits (api/routing.py `fast_path`): a request
without a query string skips FastAPI's dependency solving. These hold that they answer
exactly as FastAPI's path does (a query string takes that path: `?wait=0` on a poll, an
unused `?via=fastapi` on a submit), and that they step aside whenever the app could make
the answer differ: an overridden dependency, a dependency added at include, API keys."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from tests.api.helpers import PREFIX, assert_problem, make_lro

from lro import LRO, JobContext
from lro.api.auth import Caller, principal


class LaterParams(BaseModel):
    n: int = 1


async def submit(client: httpx.AsyncClient) -> str:
    r = await client.post(f"{PREFIX}/echo", json={"text": "a"})
    assert r.status_code == 202, r.text
    return str(r.json()["job_id"])


def same_answer(fast: httpx.Response, slow: httpx.Response) -> None:
    assert fast.status_code == slow.status_code
    assert fast.content == slow.content
    drop = {"date"}
    assert {k: v for k, v in fast.headers.items() if k not in drop} == {
        k: v for k, v in slow.headers.items() if k not in drop
    }


async def test_fast_poll_answers_as_fastapi_does(client: httpx.AsyncClient) -> None:
    job_id = await submit(client)
    url = f"{PREFIX}/jobs/{job_id}"
    fast, slow = await client.get(url), await client.get(url + "?wait=0")
    assert fast.status_code == 200 and "etag" in fast.headers
    same_answer(fast, slow)
    etag = {"If-None-Match": fast.headers["etag"]}
    fast, slow = (
        await client.get(url, headers=etag),
        await client.get(url + "?wait=0", headers=etag),
    )
    assert fast.status_code == 304
    same_answer(fast, slow)
    missing = f"{PREFIX}/jobs/no-such-job"
    fast, slow = await client.get(missing), await client.get(missing + "?wait=0")
    assert_problem(fast, 404)
    same_answer(fast, slow)


async def test_an_overridden_principal_is_honoured(app: FastAPI, client: httpx.AsyncClient) -> None:
    job_id = await submit(client)  # owned by the anonymous principal
    app.dependency_overrides[principal] = lambda: Caller("someone-else")
    try:
        assert_problem(await client.get(f"{PREFIX}/jobs/{job_id}"), 404)
    finally:
        app.dependency_overrides.clear()
    assert (await client.get(f"{PREFIX}/jobs/{job_id}")).status_code == 200


async def test_overrides_belong_to_the_app_serving_the_request(lro: LRO) -> None:
    """create_app puts lro's route objects into the app's own router (one object in
    every app made from this LRO): an override in one app must not reach the other,
    and an override in either must be honoured, as for an app's own routes."""
    first, second = lro.create_app(), lro.create_app()
    job = await lro.submit("echo", {"text": "a"})
    url = f"{PREFIX}/jobs/{job.id}"
    first.dependency_overrides[principal] = lambda: Caller("someone-else")

    async def get(app: FastAPI, path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    assert_problem(await get(first, url), 404)
    assert (await get(second, url)).status_code == 200
    assert_problem(await get(first, url + "?wait=0"), 404)
    assert (await get(second, url + "?wait=0")).status_code == 200


async def test_an_operation_registered_later_is_served_by_a_created_app(lro: LRO) -> None:
    app = lro.create_app()

    @lro.operation("later", route="/later")
    async def later(ctx: JobContext, params: LaterParams) -> None:
        """Registered after the app was made."""

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.post(f"{PREFIX}/later", json={})
        assert r.status_code == 202, r.text
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert f"{PREFIX}/later" in paths


async def test_a_dependency_added_at_include_runs(lro: LRO) -> None:
    seen: list[str] = []

    async def gate() -> None:
        seen.append("gate")
        raise HTTPException(status_code=403, detail="closed")

    app = FastAPI()
    app.include_router(lro.router, dependencies=[Depends(gate)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        job = await lro.submit("echo", {"text": "a"})
        r = await client.get(f"{PREFIX}/jobs/{job.id}")
    assert r.status_code == 403
    assert seen == ["gate"]


async def test_api_keys_apply_to_the_fast_poll(tmp_path: Path) -> None:
    lro = make_lro(tmp_path, api_keys="alice:k-alice,bob:k-bob")
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            alice = {"Authorization": "Bearer k-alice"}
            r = await client.post(f"{PREFIX}/echo", json={"text": "a"}, headers=alice)
            url = f"{PREFIX}/jobs/{r.json()['job_id']}"
            assert_problem(await client.get(url), 401)
            assert_problem(await client.get(url, headers={"Authorization": "Bearer k-bob"}), 404)
            assert (await client.get(url, headers=alice)).status_code == 200
    finally:
        await lro.stop()


async def test_fast_submit_answers_as_fastapi_does(client: httpx.AsyncClient, lro: LRO) -> None:
    for path, body in (
        (f"{PREFIX}/echo", {"text": "a"}),
        (f"{PREFIX}/jobs", {"operation": "ping"}),
    ):
        fast = await client.post(path, json=body)
        slow = await client.post(path + "?via=fastapi", json=body)
        assert fast.status_code == slow.status_code == 202
        assert set(fast.headers) == set(slow.headers)
        fast_job, slow_job = fast.json(), slow.json()
        assert set(fast_job) == set(slow_job)
        for name in ("job_id", "poll_url", "events_url", "created_at", "updated_at"):
            fast_job.pop(name), slow_job.pop(name)
        assert fast_job == slow_job
        assert (await lro.store.get_job(fast.json()["job_id"])) is not None
    bad = {"text": "a", "count": 99}
    fast = await client.post(f"{PREFIX}/echo", json=bad)
    slow = await client.post(f"{PREFIX}/echo?via=fastapi", json=bad)
    assert_problem(fast, 422)
    assert fast.json() == slow.json() | {"instance": fast.json().get("instance")}


async def test_fast_submit_replays_an_idempotent_request(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "fast-1"}
    first = await client.post(f"{PREFIX}/echo", json={"text": "a"}, headers=key)
    again = await client.post(f"{PREFIX}/echo", json={"text": "a"}, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert_problem(await client.post(f"{PREFIX}/echo", json={"text": "b"}, headers=key), 422)


async def test_a_submit_under_an_overridden_principal_is_theirs(
    app: FastAPI, client: httpx.AsyncClient, lro: LRO
) -> None:
    app.dependency_overrides[principal] = lambda: Caller("someone-else")
    try:
        r = await client.post(f"{PREFIX}/echo", json={"text": "a"})
    finally:
        app.dependency_overrides.clear()
    job = await lro.store.get_job(r.json()["job_id"])
    assert job is not None and job.owner == "someone-else"
