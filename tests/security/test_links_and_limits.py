"""Signed result links (work without a key; tampered, foreign or expired ones get one
uniform 403) and the per-principal limits (reached, then recovered)."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.api.helpers import PREFIX, claim, complete
from tests.security.conftest import LINK_SECRET, Clients, headers, served_with
from tests.stream.conftest import Served

from lro.api.links import signature
from lro.models import Job


async def completed_job(served: Served, client: httpx.AsyncClient) -> Job:
    r = await client.post(f"{PREFIX}/echo", json={"text": "linked"})
    assert r.status_code == 202
    job = await claim(served.lro)
    return await complete(served.lro, job, {"text": "linked"})


def link(job_id: str, expires: int) -> str:
    """A link signed with the server's key, as the server would make it."""
    sig = signature(hashlib.sha256(LINK_SECRET.encode()).digest(), job_id, expires)
    return f"{PREFIX}/signed/jobs/{job_id}/result?expires={expires}&sig={sig}"


async def test_a_signed_link_opens_the_result_without_a_key(secured: Served, as_: Clients) -> None:
    alice = as_("alice")
    job = await completed_job(secured, alice)
    polled = (await alice.get(f"{PREFIX}/jobs/{job.id}")).json()
    anonymous = as_(None)
    assert (await anonymous.get(polled["result_url"])).status_code == 401
    r = await anonymous.get(polled["result_link"])
    assert r.status_code == 200, r.text
    assert r.json() == {"text": "linked"}
    listed = (await alice.get(f"{PREFIX}/jobs")).json()["items"]
    assert listed[0]["result_link"].startswith(f"{PREFIX}/signed/jobs/{job.id}/result?")


async def test_tampered_foreign_and_expired_links_get_the_same_403(
    secured: Served, as_: Clients
) -> None:
    alice = as_("alice")
    job = await completed_job(secured, alice)
    other = await completed_job(secured, alice)
    good = (await alice.get(f"{PREFIX}/jobs/{job.id}")).json()["result_link"]
    future = int(time.time()) + 600
    bad = [
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # a changed signature
        good.replace(job.id, other.id),  # another job's id under this job's signature
        good.replace("expires=", "expires=9"),  # a longer life
        link(job.id, int(time.time()) - 1),  # correctly signed, but expired
        link(str(uuid.uuid4()), future),  # correctly signed, for a job that never existed
        f"{PREFIX}/signed/jobs/{job.id}/result?expires=soon&sig=x",  # mangled
    ]
    anonymous = as_(None)
    answers = [await anonymous.get(url) for url in bad]
    assert [a.status_code for a in answers] == [403] * len(bad)
    # Nothing tells one case from another (`instance` is just the path that was asked for).
    bodies = [{k: v for k, v in a.json().items() if k != "instance"} for a in answers]
    assert all(b == bodies[0] for b in bodies)
    assert "linked" not in answers[0].text


async def test_only_the_canonical_spelling_of_a_link_opens_it(
    secured: Served, as_: Clients
) -> None:
    """Issue 13: `expires` with a leading zero or non-ASCII digits parsed to the same
    number and opened the result; a missing part answered 400, not the uniform 403."""
    alice = as_("alice")
    job = await completed_job(secured, alice)
    good = (await alice.get(f"{PREFIX}/jobs/{job.id}")).json()["result_link"]
    base, _, query = good.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    expires, sig = params["expires"], params["sig"]
    arabic = "".join(chr(0x0660 + int(d)) for d in expires)  # ARABIC-INDIC DIGIT ZERO..
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in expires)  # FULLWIDTH DIGIT ZERO..
    respelled = [
        f"{base}?expires=0{expires}&sig={sig}",
        f"{base}?expires=%2B{expires}&sig={sig}",
        f"{base}?expires={arabic}&sig={sig}",
        f"{base}?expires={fullwidth}&sig={sig}",
        f"{base}?expires=%20{expires}&sig={sig}",
        f"{base}?sig={sig}",
        f"{base}?expires={expires}",
        base,
    ]
    anonymous = as_(None)
    assert (await anonymous.get(good)).status_code == 200
    answers = [await anonymous.get(url) for url in respelled]
    assert [a.status_code for a in answers] == [403] * len(respelled), [a.text for a in answers]
    bodies = [{k: v for k, v in a.json().items() if k != "instance"} for a in answers]
    assert all(b == bodies[0] for b in bodies)


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Served]:
    async for s in served_with(
        tmp_path,
        submit_rate_per_second=2,
        submit_burst=3,
        max_active_jobs=5,
        max_streams_per_principal=2,
    ):
        yield s


async def test_the_submit_rate_limit_is_reached_then_recovers(limited: Served) -> None:
    async with httpx.AsyncClient(base_url=limited.url, headers=headers("alice")) as alice:
        answers = [await alice.post(f"{PREFIX}/echo", json={"text": "x"}) for _ in range(4)]
        assert [a.status_code for a in answers] == [202, 202, 202, 429]
        refused = answers[-1]
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["limit"] == "submit_rate"
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 2
        async with httpx.AsyncClient(base_url=limited.url, headers=headers("bob")) as bob:
            # Another principal has a budget of its own.
            assert (await bob.post(f"{PREFIX}/echo", json={"text": "x"})).status_code == 202
        await asyncio.sleep(wait)  # the bucket refills by the clock, as Retry-After said
        assert (await alice.post(f"{PREFIX}/echo", json={"text": "x"})).status_code == 202


async def test_the_cap_on_unfinished_jobs_is_reached_then_recovers(limited: Served) -> None:
    async with httpx.AsyncClient(base_url=limited.url, headers=headers("alice")) as alice:
        ids = []
        for i in range(5):
            if i == 3:
                await asyncio.sleep(1.5)  # stay under the rate limit (3 at once, 2/s)
            r = await alice.post(f"{PREFIX}/echo", json={"text": "x"})
            assert r.status_code == 202, r.text
            ids.append(r.json()["job_id"])
        await asyncio.sleep(1.0)
        capped = await alice.post(f"{PREFIX}/echo", json={"text": "x"})
        assert capped.status_code == 429 and capped.json()["limit"] == "max_active_jobs"
        assert (await alice.post(f"{PREFIX}/jobs/{ids[0]}/cancel")).status_code == 202
        assert (await alice.post(f"{PREFIX}/echo", json={"text": "x"})).status_code == 202
        async with httpx.AsyncClient(base_url=limited.url, headers=headers("admin")) as admin:
            for _ in range(6):  # the admin is not limited
                assert (await admin.post(f"{PREFIX}/echo", json={"text": "x"})).status_code == 202


async def test_open_streams_per_principal_are_capped(limited: Served) -> None:
    async with httpx.AsyncClient(
        base_url=limited.url, headers=headers("alice"), timeout=10
    ) as alice:
        job_id = (await alice.post(f"{PREFIX}/echo", json={"text": "x"})).json()["job_id"]
        url = f"{PREFIX}/jobs/{job_id}/events"
        async with alice.stream("GET", url) as first, alice.stream("GET", url) as second:
            assert first.status_code == second.status_code == 200
            third = await alice.get(url)
            assert third.status_code == 429
            assert third.json()["limit"] == "max_streams_per_principal"
            held = await alice.get(f"{PREFIX}/jobs/{job_id}", params={"wait": 1})
            assert held.status_code == 429  # a long poll holds a place too

        # Closed streams give their places back (released when the server notices).
        async def reopened() -> int:
            for _ in range(100):
                async with alice.stream("GET", url) as again:
                    if again.status_code == 200:
                        return 200
                await asyncio.sleep(0.05)
            return 429

        assert await reopened() == 200
