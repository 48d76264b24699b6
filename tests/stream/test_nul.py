"""U+0000 in input, on both backends through a real server (issue 13: PostgreSQL
answered 500 and dropped the connection for a NUL anywhere in input, SQLite 404/202).
Now every backend gives the same answer: a 404 for a NUL in a path (no id holds one), a
400 for one in a query parameter, a 422 naming the field for one in a submit's params,
and nothing stored."""

from __future__ import annotations

import httpx
from tests.api.helpers import PREFIX, assert_problem, count_jobs
from tests.stream.conftest import Served


async def test_a_nul_in_the_url_is_a_400_on_every_route(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        bad = f"{PREFIX}/jobs/abc%00def"
        unknown = [
            await client.get(bad),
            await client.get(f"{bad}/result"),
            await client.get(f"{bad}/events"),
            await client.get(f"{bad}/deliveries"),
            await client.post(f"{bad}/cancel"),
            await client.post(f"{bad}/deliveries/x/retry"),
            await client.delete(bad),
        ]
        malformed = [
            await client.get(f"{PREFIX}/jobs", params={"operation": "\x00"}),
            await client.get(f"{PREFIX}/jobs", params={"cursor": "a\x00b"}),
            await client.get(f"{PREFIX}/jobs", params={"status": "queued\x00"}),
            await client.get(f"{PREFIX}/jobs/x", params={"wait": "1\x00"}),
        ]
        for status, answers in ((404, unknown), (400, malformed)):
            for answer in answers:
                assert_problem(answer, status)
                assert answer.headers["x-content-type-options"] == "nosniff"
        head = await client.head(bad)
        assert (head.status_code, head.content) == (404, b"")
        # A NUL in a parameter the route does not read is never looked at.
        assert (await client.get(f"{PREFIX}/stats", params={"x": "\x00"})).status_code == 200
        # The connection was kept: the same client still works.
        assert (await client.get(f"{PREFIX}/jobs")).status_code == 200


async def test_a_nul_in_params_is_a_422_naming_it_and_stores_nothing(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        direct = await client.post(f"{PREFIX}/echo", json={"text": "a\u0000b"})
        body = assert_problem(direct, 422)
        assert [e["pointer"] for e in body["errors"]] == ["/text"]
        generic = await client.post(
            f"{PREFIX}/jobs", json={"operation": "echo", "params": {"text": "\u0000"}}
        )
        assert [e["pointer"] for e in assert_problem(generic, 422)["errors"]] == ["/text"]
        hook = await client.post(
            f"{PREFIX}/echo", json={"text": "a", "callback_url": "http://h\u0000/"}
        )
        assert [e["pointer"] for e in assert_problem(hook, 422)["errors"]] == ["/callback_url"]
        # An escaped backslash followed by "u0000" is text, not a NUL: it is stored as is.
        kept = await client.post(f"{PREFIX}/echo", content=b'{"text": "\\\\u0000"}')
        assert kept.status_code == 202, kept.text
        stored = await served.lro.store.get_job(kept.json()["job_id"])
        assert stored is not None and stored.params["text"] == "\\u0000"
    assert await count_jobs(served.lro) == 1
