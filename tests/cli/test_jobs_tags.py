"""`lro jobs --tag` (and the other §15 filters) against a real server, through the client
SDK's list filters."""

from __future__ import annotations

import json
import uuid

from tests.cli.conftest import Lro

from lro.client import Client


def test_jobs_by_tag_and_search(lro: Lro, api: Client) -> None:
    order = f"order:{uuid.uuid4().hex[:8]}"
    params = {"rows": 1, "delay_seconds": 60}
    a = api.submit("reports.generate", params, tags=[order, "eu"], metadata={"k": 1})
    b = api.submit("reports.generate", params, tags=[order])
    api.submit("reports.generate", params, tags=["eu"])
    assert a.tags == [order, "eu"] and a.metadata == {"k": 1}

    doc = json.loads(lro.ok("jobs", "--tag", order, "--json", "--all"))
    assert [item["job_id"] for item in doc["items"]] == [b.job_id, a.job_id]
    doc = json.loads(lro.ok("jobs", "--tag", order, "--tag", "eu", "--json"))
    assert [item["job_id"] for item in doc["items"]] == [a.job_id]
    assert doc["items"][0]["tags"] == [order, "eu"]
    text = lro.ok("jobs", "--tag", order)
    assert text.splitlines()[0].split()[5] == "TAGS" and f"{order},eu" in text
    doc = json.loads(lro.ok("jobs", "--search", a.job_id[:12], "--json"))
    assert [item["job_id"] for item in doc["items"]] == [a.job_id]
    assert a.created_at is not None
    after = a.created_at.isoformat()
    doc = json.loads(lro.ok("jobs", "--tag", order, "--created-after", after, "--json"))
    assert [item["job_id"] for item in doc["items"]] == [b.job_id]
    assert [j.job_id for j in api.iter_jobs(tag=[order, "eu"])] == [a.job_id]
    assert [j.job_id for j in api.list(tag=order, created_before=b.created_at).items] == [a.job_id]
    for job in (a, b):
        api.cancel(job.job_id)
