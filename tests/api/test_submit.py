"""Submitting work (HTTP-CONTRACT §1, §6, §7): 202 answers, validation, idempotency,
`Prefer: wait`."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from tests.api.helpers import PREFIX, assert_problem, claim, complete, count_jobs

from lro import LRO, SubmitRequest
from lro.errors import IdempotencyMismatch
from lro.models import ListQuery, Status, utcnow


async def test_operation_route_answers_202_with_location_and_retry_after(
    client: httpx.AsyncClient, lro: LRO
) -> None:
    r = await client.post(f"{PREFIX}/echo", json={"text": "hi", "count": 2})
    assert r.status_code == 202, r.text
    body = r.json()
    job_id = body["job_id"]
    assert uuid.UUID(job_id).version in (4, 7)
    assert body["status"] == "queued"
    assert body["poll_url"] == f"{PREFIX}/jobs/{job_id}"
    assert body["events_url"] == f"{PREFIX}/jobs/{job_id}/events"
    assert body["estimated_duration_seconds"] == 30
    assert body["created_at"].endswith("Z")
    assert r.headers["location"] == f"{PREFIX}/jobs/{job_id}"
    assert int(r.headers["retry-after"]) >= 1
    assert "idempotent-replayed" not in r.headers
    job = await lro.store.get_job(job_id)
    assert job is not None
    assert job.params == {"text": "hi", "count": 2}
    assert job.operation == "echo"


async def test_reserved_fields_are_not_params(client: httpx.AsyncClient, lro: LRO) -> None:
    r = await client.post(
        f"{PREFIX}/echo",
        json={"text": "x", "priority": 7, "callback_url": "http://127.0.0.1:9/hook"},
    )
    assert r.status_code == 202, r.text
    job = await lro.store.get_job(r.json()["job_id"])
    assert job is not None
    assert job.params == {"text": "x", "count": 1}
    assert job.priority == 7
    assert job.callback_url == "http://127.0.0.1:9/hook"


async def test_generic_route_accepts_any_operation(client: httpx.AsyncClient, lro: LRO) -> None:
    r = await client.post(
        f"{PREFIX}/jobs",
        json={"operation": "ping", "params": {}, "priority": 3, "delay_seconds": 60},
    )
    assert r.status_code == 202, r.text
    job = await lro.store.get_job(r.json()["job_id"])
    assert job is not None
    assert job.operation == "ping" and job.priority == 3
    assert (job.run_at - job.created_at).total_seconds() >= 59
    r = await client.post(f"{PREFIX}/jobs", json={"operation": "echo", "params": {"text": "a"}})
    assert r.status_code == 202


async def test_empty_body_means_no_params(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{PREFIX}/echo", content=b"")
    body = assert_problem(r, 422)
    assert any(e["pointer"] == "/text" for e in body["errors"])


async def test_validation_errors_are_422_with_fields_and_change_nothing(
    client: httpx.AsyncClient, lro: LRO
) -> None:
    bad = [
        (f"{PREFIX}/echo", {"text": "a", "count": 99}, "/count"),
        (f"{PREFIX}/echo", {"count": 1}, "/text"),
        (f"{PREFIX}/echo", {"text": "a", "priority": "high"}, "/priority"),
        (f"{PREFIX}/echo", {"text": "a", "priority": True}, "/priority"),
        (f"{PREFIX}/echo", {"text": "a", "callback_url": "ftp://x/y"}, "/callback_url"),
        (f"{PREFIX}/echo", {"text": "a", "callback_url": 5}, "/callback_url"),
        (f"{PREFIX}/jobs", {"operation": "nope", "params": {}}, "/operation"),
        (f"{PREFIX}/jobs", {"params": {}}, "/operation"),
        (f"{PREFIX}/jobs", {"operation": "echo", "params": []}, "/params"),
        (f"{PREFIX}/jobs", {"operation": "echo", "params": {"text": 1}}, "/text"),
        (f"{PREFIX}/jobs", {"operation": "ping", "delay_seconds": -1}, "/delay_seconds"),
        (f"{PREFIX}/jobs", {"operation": "ping", "surprise": 1}, "/surprise"),
    ]
    for path, payload, pointer in bad:
        r = await client.post(path, json=payload)
        body = assert_problem(r, 422)
        assert any(e["pointer"] == pointer for e in body["errors"]), (payload, body)
    assert await count_jobs(lro) == 0


async def test_non_object_body_is_422_and_malformed_json_is_400(
    client: httpx.AsyncClient, lro: LRO
) -> None:
    for payload in ([1, 2], "text", 3, None):
        assert_problem(await client.post(f"{PREFIX}/echo", json=payload), 422)
        assert_problem(await client.post(f"{PREFIX}/jobs", json=payload), 422)
    for raw in (b"{", b"{'a': 1}", b'{"text": NaN}', b"\xff\xfe"):
        r = await client.post(
            f"{PREFIX}/echo", content=raw, headers={"content-type": "application/json"}
        )
        assert_problem(r, 400)
    assert await count_jobs(lro) == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
async def test_a_body_that_is_not_declared_json_is_415(
    client: httpx.AsyncClient, lro: LRO, content_type: str
) -> None:
    """The media types a web page may post to another origin without a preflight are
    refused, so a site cannot submit jobs to a keyless server on the user's machine."""
    for path in (f"{PREFIX}/echo", f"{PREFIX}/jobs"):
        body = b'{"text": "a"}' if path.endswith("echo") else b'{"operation": "ping"}'
        r = await client.post(path, content=body, headers={"content-type": content_type})
        assert_problem(r, 415)
        assert "application/json" in r.json()["detail"]
    assert await count_jobs(lro) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json; charset=utf-8"},
        {"content-type": "Application/JSON"},
        {"content-type": "application/vnd.example+json"},
        {},
    ],
)
async def test_json_media_types_and_none_at_all_are_accepted(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client.post(f"{PREFIX}/echo", content=b'{"text": "a"}', headers=headers)
    assert r.status_code == 202, r.text


async def test_idempotency_replay_returns_the_same_job(client: httpx.AsyncClient, lro: LRO) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = await client.post(f"{PREFIX}/echo", json={"text": "a"}, headers=headers)
    assert first.status_code == 202
    assert "idempotent-replayed" not in first.headers
    # Same body with another key order: the canonical body is the same.
    again = await client.post(f"{PREFIX}/echo", content=b'{ "text" : "a" }', headers=headers)
    assert again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["job_id"] == first.json()["job_id"]
    assert again.headers["location"] == first.headers["location"]
    assert await count_jobs(lro) == 1


async def test_idempotency_mismatch_is_422(client: httpx.AsyncClient, lro: LRO) -> None:
    headers = {"Idempotency-Key": "k1"}
    first = await client.post(f"{PREFIX}/echo", json={"text": "a"}, headers=headers)
    assert first.status_code == 202
    other_body = await client.post(f"{PREFIX}/echo", json={"text": "b"}, headers=headers)
    assert_problem(other_body, 422)
    other_path = await client.post(
        f"{PREFIX}/jobs", json={"operation": "echo", "params": {"text": "a"}}, headers=headers
    )
    assert_problem(other_path, 422)
    assert await count_jobs(lro) == 1


async def test_submit_many_with_a_reused_key_stores_nothing(lro: LRO) -> None:
    await lro.submit("echo", {"text": "a"}, idempotency_key="k1")
    batch = [
        SubmitRequest("echo", {"text": "new"}),
        SubmitRequest("echo", {"text": "b"}, idempotency_key="k1"),
    ]
    with pytest.raises(IdempotencyMismatch):
        await lro.submit_many(batch)
    assert await count_jobs(lro) == 1


async def test_malformed_idempotency_key_is_400(client: httpx.AsyncClient, lro: LRO) -> None:
    for key in ("", "   ", "x" * 256, "caf\u00e9", "tab\there"):
        r = await client.post(
            f"{PREFIX}/echo",
            json={"text": "a"},
            headers=[(b"Idempotency-Key", key.encode())],
        )
        assert_problem(r, 400)
    r = await client.post(
        f"{PREFIX}/echo",
        json={"text": "a"},
        headers=[("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
    )
    assert_problem(r, 400)
    ok = await client.post(
        f"{PREFIX}/echo", json={"text": "a"}, headers={"Idempotency-Key": "x" * 255}
    )
    assert ok.status_code == 202
    assert await count_jobs(lro) == 1


async def test_concurrent_duplicates_make_one_job(client: httpx.AsyncClient, lro: LRO) -> None:
    headers = {"Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(client.post(f"{PREFIX}/echo", json={"text": "a"}, headers=headers) for _ in range(32))
    )
    assert all(r.status_code < 500 for r in responses), [r.status_code for r in responses]
    accepted = [r for r in responses if r.status_code == 202]
    assert {r.json()["job_id"] for r in accepted} == {accepted[0].json()["job_id"]}
    assert sum("idempotent-replayed" not in r.headers for r in accepted) <= 1
    for r in responses:
        if r.status_code != 202:
            assert_problem(r, 409)
            assert int(r.headers["retry-after"]) >= 1
    assert await count_jobs(lro) == 1


async def test_prefer_wait_returns_200_when_the_job_ends(
    client: httpx.AsyncClient, lro: LRO
) -> None:
    async def finish_when_queued() -> None:
        while True:
            jobs = await lro.store.list_jobs(ListQuery(statuses=[Status.QUEUED]), utcnow())
            if jobs.items:
                await complete(lro, await claim(lro), {"done": True})
                return
            await asyncio.sleep(0.01)

    finisher = asyncio.create_task(finish_when_queued())
    r = await client.post(
        f"{PREFIX}/echo", json={"text": "a"}, headers={"Prefer": "respond-async, wait=5"}
    )
    await finisher
    assert r.status_code == 200, r.text
    assert r.headers["preference-applied"] == "wait=5"
    body = r.json()
    assert body["status"] == "completed"
    assert body["result"] == {"done": True}
    assert body["result_url"] == f"{PREFIX}/jobs/{body['job_id']}/result"


async def test_prefer_wait_times_out_to_202(lro: LRO) -> None:
    lro.settings = lro.settings.model_copy(update={"max_wait_seconds": 0.2})
    app = lro.create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        r = await c.post(f"{PREFIX}/echo", json={"text": "a"}, headers={"Prefer": "wait=1"})
        assert r.status_code == 202
        assert "preference-applied" not in r.headers
        assert r.json()["status"] == "queued"
        # A malformed wait is ignored, as RFC 7240 asks.
        r = await c.post(f"{PREFIX}/echo", json={"text": "b"}, headers={"Prefer": "wait=soon"})
        assert r.status_code == 202
