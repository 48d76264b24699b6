"""Result download (HTTP-CONTRACT §3): artifacts with their media type and Range, inline
JSON results, 409 before completion."""

from __future__ import annotations

import httpx
from tests.api.helpers import PREFIX, assert_problem, claim, complete, lease

from lro import LRO

CSV = b"id,name\n" + b"".join(b"%d,row-%d\n" % (i, i) for i in range(1, 200))


async def completed_with_file(client: httpx.AsyncClient, lro: LRO) -> str:
    r = await client.post(f"{PREFIX}/echo", json={"text": "a"})
    job_id: str = r.json()["job_id"]
    job = await claim(lro)
    ref = await lro.result_store.put_bytes(lease(job), CSV, "text/csv", "report.csv")
    await complete(lro, job, result_ref=ref)
    return job_id


async def test_artifact_download_with_media_type(client: httpx.AsyncClient, lro: LRO) -> None:
    job_id = await completed_with_file(client, lro)
    resource = (await client.get(f"{PREFIX}/jobs/{job_id}")).json()
    assert resource["result"] is None
    r = await client.get(resource["result_url"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content == CSV
    assert r.headers["accept-ranges"] == "bytes"
    assert "report.csv" in r.headers["content-disposition"]


async def test_artifact_range_requests(client: httpx.AsyncClient, lro: LRO) -> None:
    job_id = await completed_with_file(client, lro)
    url = f"{PREFIX}/jobs/{job_id}/result"
    r = await client.get(url, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206
    assert r.content == CSV[:10]
    assert r.headers["content-range"] == f"bytes 0-9/{len(CSV)}"
    r = await client.get(url, headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == CSV[-5:]

    r = await client.get(url, headers={"Range": f"bytes={len(CSV) + 10}-"})
    assert_problem(r, 416)
    assert r.headers["content-range"] == f"bytes */{len(CSV)}"

    # A Range header we cannot use is ignored (RFC 9110 §14.2): the whole file.
    for unusable in ("lines=1-2", "bytes=garbage", "bytes=9-2"):
        r = await client.get(url, headers={"Range": unusable})
        assert r.status_code == 200, unusable
        assert r.content == CSV


async def test_inline_json_result(client: httpx.AsyncClient, lro: LRO) -> None:
    r = await client.post(f"{PREFIX}/echo", json={"text": "a"})
    job_id = r.json()["job_id"]
    await complete(lro, await claim(lro), {"rows": [1, 2, 3]})
    r = await client.get(f"{PREFIX}/jobs/{job_id}/result")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"rows": [1, 2, 3]}


async def test_result_before_completion_is_409(client: httpx.AsyncClient, lro: LRO) -> None:
    r = await client.post(f"{PREFIX}/echo", json={"text": "a"})
    job_id = r.json()["job_id"]
    body = assert_problem(await client.get(f"{PREFIX}/jobs/{job_id}/result"), 409)
    assert body["job_status"] == "queued"
    await claim(lro)
    body = assert_problem(await client.get(f"{PREFIX}/jobs/{job_id}/result"), 409)
    assert body["job_status"] == "processing"
    await client.post(f"{PREFIX}/jobs/{job_id}/cancel")
