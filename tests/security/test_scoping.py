"""Every route by every kind of caller, against a real server with API keys: the owner gets
its job, another principal gets the same 404 as for an unknown id, the admin sees all,
and a missing or wrong key gets 401 with WWW-Authenticate."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass

import httpx
import pytest
from tests.api.helpers import PREFIX, claim, complete
from tests.security.conftest import KEYS, Clients
from tests.stream.conftest import Served

from lro.models import Job


@dataclass
class World:
    alice_done: str
    alice_queued: str
    bob_done: str


async def submit(client: httpx.AsyncClient, text: str) -> str:
    r = await client.post(f"{PREFIX}/echo", json={"text": text})
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    return job_id


async def finish(served: Served, job_id: str) -> Job:
    job = await claim(served.lro)
    assert job.id == job_id
    return await complete(served.lro, job, {"text": "done"})


@pytest.fixture
async def world(secured: Served, as_: Clients) -> World:
    alice, bob = as_("alice"), as_("bob")
    alice_done = await submit(alice, "a")
    await finish(secured, alice_done)
    bob_done = await submit(bob, "b")
    await finish(secured, bob_done)
    return World(alice_done, await submit(alice, "q"), bob_done)


READS = [
    ("GET", "{api}/jobs/{job}", 404),
    ("GET", "{api}/jobs/{job}/result", 404),
    ("GET", "{api}/jobs/{job}/params", 404),
    ("GET", "{api}/jobs/{job}/events", 404),
    ("GET", "{api}/jobs/{job}/deliveries", 404),
    # Not about one job: every principal gets a view of its own (see test_stats_...).
    ("GET", "{api}/stats", 200),
    ("GET", "/dashboard", 200),
]
"""Each route, with what bob (who does not own alice's job) gets."""
CALLERS = {"alice": 200, "admin": 200, "bob": None, None: 401, "wrong": 401}
"""What each caller gets; None: the route's own answer for bob."""


@pytest.mark.parametrize(("method", "path", "for_bob"), READS)
@pytest.mark.parametrize(("who", "expected"), list(CALLERS.items()))
async def test_reads_of_alices_job(
    as_: Clients,
    world: World,
    method: str,
    path: str,
    for_bob: int,
    who: str | None,
    expected: int | None,
) -> None:
    r = await as_(who).request(method, path.format(api=PREFIX, job=world.alice_done))
    assert r.status_code == (for_bob if expected is None else expected), r.text
    if expected == 401:
        assert r.headers["www-authenticate"] == 'Bearer realm="lro"'
        assert r.headers["content-type"].startswith("application/problem+json")


OPERATOR_ROUTES = [("GET", "/metrics")]
"""Routes whose answer covers every principal's jobs: for admins only."""


@pytest.mark.parametrize(("method", "path"), OPERATOR_ROUTES)
@pytest.mark.parametrize(
    ("who", "expected"),
    [("alice", 403), ("bob", 403), ("admin", 200), (None, 401), ("wrong", 401)],
)
async def test_operator_routes_are_for_admins(
    as_: Clients, world: World, method: str, path: str, who: str | None, expected: int
) -> None:
    r = await as_(who).request(method, path)
    assert r.status_code == expected, r.text
    if expected != 200:
        assert r.headers["content-type"].startswith("application/problem+json")
    else:
        assert 'lro_jobs{operation="echo",status="completed"} 2.0' in r.text


@pytest.mark.parametrize(
    ("who", "cancel", "delete"),
    [("alice", 202, 204), ("admin", 202, 204), ("bob", 404, 404), (None, 401, 401)],
)
async def test_changes_to_alices_jobs(
    secured: Served, as_: Clients, who: str | None, cancel: int, delete: int
) -> None:
    alice = as_("alice")
    queued = await submit(alice, "to cancel")
    r = await as_(who).post(f"{PREFIX}/jobs/{queued}/cancel")
    assert r.status_code == cancel, r.text
    expected_status = "cancelled" if cancel == 202 else "queued"
    assert (await alice.get(f"{PREFIX}/jobs/{queued}")).json()["status"] == expected_status
    if cancel != 202:
        await alice.post(f"{PREFIX}/jobs/{queued}/cancel")
    r = await as_(who).delete(f"{PREFIX}/jobs/{queued}")
    assert r.status_code == delete, r.text
    still_there = (await alice.get(f"{PREFIX}/jobs/{queued}")).status_code
    assert still_there == (404 if delete == 204 else 200)


async def test_a_foreign_job_answers_exactly_like_an_unknown_one(
    as_: Clients, world: World
) -> None:
    bob = as_("bob")
    unknown = str(uuid.uuid4())
    for path in ("/jobs/{job}", "/jobs/{job}/result", "/jobs/{job}/events", "/jobs/{job}/cancel"):
        method = "POST" if path.endswith("cancel") else "GET"
        foreign = await bob.request(method, PREFIX + path.format(job=world.alice_done))
        missing = await bob.request(method, PREFIX + path.format(job=unknown))
        assert foreign.status_code == missing.status_code == 404
        assert dict(foreign.headers).keys() == dict(missing.headers).keys()
        assert foreign.text.replace(world.alice_done, unknown) == missing.text


async def test_lists_are_scoped_and_the_admin_sees_everyone(as_: Clients, world: World) -> None:
    async def ids(who: str) -> set[str]:
        r = await as_(who).get(f"{PREFIX}/jobs")
        assert r.status_code == 200
        return {item["job_id"] for item in r.json()["items"]}

    assert await ids("alice") == {world.alice_done, world.alice_queued}
    assert await ids("bob") == {world.bob_done}
    assert await ids("admin") == {world.alice_done, world.alice_queued, world.bob_done}
    assert (await as_(None).get(f"{PREFIX}/jobs")).status_code == 401


async def test_only_an_admins_list_names_the_owners(as_: Clients, world: World) -> None:
    owners = {
        item["job_id"]: item["owner"]
        for item in (await as_("admin").get(f"{PREFIX}/jobs")).json()["items"]
    }
    assert owners == {world.alice_done: "alice", world.alice_queued: "alice", world.bob_done: "bob"}
    for item in (await as_("alice").get(f"{PREFIX}/jobs")).json()["items"]:
        assert "owner" not in item


async def test_stats_are_scoped_and_the_admin_counts_everyone(as_: Clients, world: World) -> None:
    async def stats(who: str) -> tuple[str, bool, int, dict[str, int]]:
        r = await as_(who).get(f"{PREFIX}/stats")
        assert r.status_code == 200, r.text
        body = r.json()
        [echo] = [o for o in body["operations"] if o["operation"] == "echo"]
        assert echo["by_status"] == body["by_status"]  # the world has echo jobs only
        by_status = {k: v for k, v in body["by_status"].items() if v}
        return body["principal"], body["admin"], body["total"], by_status

    assert await stats("alice") == ("alice", False, 2, {"completed": 1, "queued": 1})
    assert await stats("bob") == ("bob", False, 1, {"completed": 1})
    assert await stats("admin") == ("admin", True, 3, {"completed": 2, "queued": 1})
    for who in (None, "wrong"):
        r = await as_(who).get(f"{PREFIX}/stats")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="lro"'


async def test_idempotency_keys_are_per_principal(as_: Clients, world: World) -> None:
    key = {"Idempotency-Key": "same-key-for-both"}
    a = await as_("alice").post(f"{PREFIX}/echo", json={"text": "x"}, headers=key)
    b = await as_("bob").post(f"{PREFIX}/echo", json={"text": "x"}, headers=key)
    assert a.status_code == b.status_code == 202
    assert a.json()["job_id"] != b.json()["job_id"]
    assert "idempotent-replayed" not in b.headers


async def test_health_and_the_openapi_document_need_no_key(as_: Clients) -> None:
    anonymous = as_(None)
    assert (await anonymous.get("/healthz")).status_code == 200
    doc = (await anonymous.get("/openapi.json")).json()
    job = doc["paths"][f"{PREFIX}/jobs/{{job_id}}"]["get"]["responses"]
    assert {"401", "429"} <= set(job)
    assert "401" in doc["paths"][f"{PREFIX}/jobs/{{job_id}}/cancel"]["post"]["responses"]
    assert "401" in doc["paths"][f"{PREFIX}/stats"]["get"]["responses"]


async def test_keys_never_reach_the_logs(
    as_: Clients, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for who in ("alice", "bob", "admin", "wrong"):
        await as_(who).get(f"{PREFIX}/jobs/{world.alice_done}")
        await as_(who).post(f"{PREFIX}/echo", json={"text": "x"})
    logged = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    assert not any(key in logged for key in KEYS.values())


async def test_a_foreign_job_costs_the_same_reads_as_an_unknown_one(
    secured: Served, as_: Clients, world: World
) -> None:
    """No timing tell: count the store reads each answer takes (a spy on the real store)."""
    calls: list[str] = []
    store = secured.lro.store
    for name in ("get_job", "get_tombstone"):
        real = getattr(store, name)

        async def spy(*args: object, _real: object = real, _name: str = name) -> object:
            calls.append(_name)
            return await _real(*args)  # type: ignore[operator]

        setattr(store, name, spy)
    bob = as_("bob")
    await bob.get(f"{PREFIX}/jobs/{world.alice_done}")
    foreign, calls[:] = list(calls), []
    await bob.get(f"{PREFIX}/jobs/{uuid.uuid4()}")
    assert foreign == calls == ["get_job", "get_tombstone"]


async def test_security_headers(as_: Clients, world: World) -> None:
    alice = as_("alice")
    for r in (
        await alice.get(f"{PREFIX}/jobs/{world.alice_done}"),
        await as_(None).get(f"{PREFIX}/jobs"),
        await alice.get(f"{PREFIX}/jobs/{world.alice_done}/result"),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    page = await alice.get("/docs")
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert page.headers["x-frame-options"] == "DENY"
