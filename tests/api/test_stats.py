"""GET /api/v1/stats: the caller's jobs counted per status and operation (scoping by
principal is in tests/security/test_scoping.py)."""

from __future__ import annotations

from typing import Any

import httpx
from tests.api.helpers import PREFIX, claim, complete

from lro import LRO

ZEROS = {"queued": 0, "processing": 0, "completed": 0, "failed": 0, "cancelled": 0}


async def test_every_registered_operation_is_listed_even_without_jobs(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get(f"{PREFIX}/stats")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"
    assert r.json() == {
        "principal": "",
        "admin": False,
        "total": 0,
        "by_status": ZEROS,
        "operations": [
            {"operation": name, "total": 0, "by_status": ZEROS} for name in ("echo", "ping", "ship")
        ],
    }


async def test_counts_follow_the_jobs(client: httpx.AsyncClient, lro: LRO) -> None:
    for text in ("a", "b", "c"):
        assert (await client.post(f"{PREFIX}/echo", json={"text": text})).status_code == 202
    await complete(lro, await claim(lro), {"text": "a"})
    await claim(lro)
    assert (await client.post(f"{PREFIX}/jobs", json={"operation": "ping"})).status_code == 202

    body: dict[str, Any] = (await client.get(f"{PREFIX}/stats")).json()
    assert body["total"] == 4
    assert body["by_status"] == {**ZEROS, "queued": 2, "processing": 1, "completed": 1}
    by_operation = {o["operation"]: o for o in body["operations"]}
    assert by_operation["echo"] == {
        "operation": "echo",
        "total": 3,
        "by_status": {**ZEROS, "queued": 1, "processing": 1, "completed": 1},
    }
    assert by_operation["ping"]["by_status"] == {**ZEROS, "queued": 1}
    assert by_operation["ship"]["total"] == 0


async def test_the_openapi_document_describes_stats(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    responses = doc["paths"][f"{PREFIX}/stats"]["get"]["responses"]
    assert set(responses) == {"200", "503", "default"}
    ref = responses["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(schema["properties"]) == {"principal", "admin", "total", "by_status", "operations"}
