"""HEAD on a real server: the GET's status and headers, no body, for every GET route;
on the event stream too, which must answer and end rather than stay open."""

from __future__ import annotations

import asyncio

import httpx
from tests.api.helpers import PREFIX
from tests.stream.conftest import Served

from lro.api.quotas import holds


async def test_head_mirrors_get_without_a_body(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        job_id = (await client.post(f"{PREFIX}/echo", json={"text": "a"})).json()["job_id"]
        for path in (
            "/healthz",
            "/readyz",
            f"{PREFIX}/jobs/{job_id}",
            f"{PREFIX}/jobs",
            "/dashboard",
        ):
            get, head = await client.get(path), await client.head(path)
            assert head.status_code == get.status_code == 200, path
            assert head.content == b""
            for name in ("content-type", "content-length", "etag", "retry-after"):
                assert head.headers.get(name) == get.headers.get(name), (path, name)
        missing = await client.head(f"{PREFIX}/jobs/00000000-0000-4000-8000-000000000000")
        assert (missing.status_code, missing.content) == (404, b"")
        not_here = await client.head(f"{PREFIX}/echo")  # POST only
        assert not_here.status_code == 405 and "POST" in not_here.headers["allow"]


async def test_head_on_the_event_stream_answers_and_ends(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        job_id = (await client.post(f"{PREFIX}/echo", json={"text": "a"})).json()["job_id"]
        head = await client.head(f"{PREFIX}/jobs/{job_id}/events")
        assert head.status_code == 200
        assert head.headers["content-type"].startswith("text/event-stream")
        assert head.content == b""
        # The server is fine afterwards, and the stream's hold was given back.
        assert (await client.get(f"{PREFIX}/jobs/{job_id}")).status_code == 200
        for _ in range(500):  # released by the response's background task, just after it
            if holds(served.lro).total == 0:
                break
            await asyncio.sleep(0.01)
        assert holds(served.lro).total == 0
