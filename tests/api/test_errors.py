"""Errors are problem+json everywhere (HTTP-CONTRACT §7, §10): FastAPI's own 404/405, body
limits while streaming, store outages as 503, and the health routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tests.api.helpers import PREFIX, assert_problem, count_jobs, make_lro

from lro import LRO


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/nowhere"), 404)
    assert body["type"].endswith("/not-found")
    r = await client.put(f"{PREFIX}/jobs")
    assert_problem(r, 405)
    assert "GET" in r.headers["allow"]


async def test_body_over_the_limit_with_content_length(client: httpx.AsyncClient, lro: LRO) -> None:
    r = await client.post(f"{PREFIX}/echo", json={"text": "x" * 5000})
    body = assert_problem(r, 413)
    assert body["max_body_bytes"] == 4096
    assert await count_jobs(lro) == 0


async def test_chunked_body_over_the_limit_is_cut_off(client: httpx.AsyncClient, lro: LRO) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"text": "'
        for _ in range(100):
            sent += 1
            yield b"x" * 1000
        yield b'"}'

    r = await client.post(f"{PREFIX}/echo", content=chunks())
    assert "content-length" not in r.request.headers
    assert_problem(r, 413)
    assert sent < 100, "the body should be cut off, not read to the end"
    assert await count_jobs(lro) == 0


async def test_chunked_body_under_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text":'
        yield b' "small"}'

    r = await client.post(f"{PREFIX}/echo", content=chunks())
    assert r.status_code == 202, r.text


async def test_store_outage_is_503_with_retry_after(client: httpx.AsyncClient, lro: LRO) -> None:
    r = await client.post(f"{PREFIX}/echo", json={"text": "a"})
    job_id = r.json()["job_id"]
    await lro.store.close()
    for method, path, payload in (
        ("GET", f"{PREFIX}/jobs/{job_id}", None),
        ("GET", f"{PREFIX}/jobs", None),
        ("POST", f"{PREFIX}/echo", {"text": "a"}),
        ("POST", f"{PREFIX}/jobs/{job_id}/cancel", None),
    ):
        r = await client.request(method, path, json=payload)
        assert_problem(r, 503)
        assert int(r.headers["retry-after"]) >= 1
    r = await client.get("/readyz")
    assert_problem(r, 503)
    assert int(r.headers["retry-after"]) >= 1
    assert (await client.get("/healthz")).status_code == 200


async def test_health_routes(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}


async def test_unexpected_errors_are_a_500_problem_without_traceback(
    app: FastAPI,
) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        r = await c.get("/boom")
    body = assert_problem(r, 500)
    assert "secret" not in r.text and "Traceback" not in r.text
    assert body["type"].endswith("/internal")


async def test_lifespan_starts_and_stops_the_store(tmp_path: Path) -> None:
    lro = make_lro(tmp_path)
    app = lro.create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            assert (await c.get("/readyz")).status_code == 200
    with pytest.raises(Exception, match=r"not open|closed"):
        await lro.store.ping()


async def test_router_alone_starts_lro_lazily(tmp_path: Path) -> None:
    lro = make_lro(tmp_path)
    app = FastAPI()
    app.include_router(lro.router)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            r = await c.post(f"{PREFIX}/echo", json={"text": "a"})
            assert r.status_code == 202
    finally:
        await lro.stop()
