"""The dashboard's live job list and its batches list in a real browser.

The page is opened with its resync poll set to an hour (`/dashboard?resync=3600`) and,
once signed in, every read of the job list is refused: a job that then appears, and its
progress that then moves, can only have come over the list's event stream
(GET /api/v1/jobs/events). The batches panel lists what GET /api/v1/batches answers, not
the batches of the jobs on screen.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Route, expect
from tests.api.helpers import PREFIX, claim, complete, progress
from tests.browser.conftest import KEYS, Tab
from tests.stream.conftest import Served

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOSTILE = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>"
JOB_LIST = re.compile(r"/api/v1/jobs\?")
"""The job list's reads (GET /jobs?limit=...), not its stream (/jobs/events)."""


async def sign_in_slow_resync(tab: Tab, who: str) -> None:
    await tab.page.goto(f"{tab.url}/dashboard?resync=3600")
    await tab.submit_key(KEYS[who])
    await expect(tab.page.locator("#dashboard")).to_be_visible()
    await expect(tab.page.locator("#principal")).to_have_text(who)


async def post(server: Served, who: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post(
            f"{PREFIX}{path}", json=body, headers={"Authorization": f"Bearer {KEYS[who]}"}
        )
        assert r.status_code == 202, r.text
        answer: dict[str, Any] = r.json()
        return answer


async def test_a_submitted_job_appears_and_moves_over_the_stream_alone(
    tab: Tab, server: Served
) -> None:
    lro, page = server.lro, tab.page
    await sign_in_slow_resync(tab, "alice")
    refused: list[str] = []

    async def refuse(route: Route) -> None:
        refused.append(route.request.url)
        await route.abort()

    await page.route(JOB_LIST, refuse)
    try:
        job_id = (await post(server, "alice", "/echo", {"text": "live"}))["job_id"]
        bobs = (await post(server, "bob", "/echo", {"text": "not alice's"}))["job_id"]
        row = tab.row(job_id)
        await expect(row.locator(".status")).to_have_text("queued")

        job = await claim(lro)
        while job.id != job_id:  # another test's leftover: finish it and take the next
            await complete(lro, job)
            job = await claim(lro)
        await expect(row.locator(".status")).to_have_text("processing")
        await progress(lro, job, 40, HOSTILE)
        await expect(row.locator("td.progress span")).to_have_text("40%")
        await expect(row.locator("td.step")).to_have_text(HOSTILE)
        await progress(lro, job, 80, "nearly")
        await expect(row.locator("td.progress span")).to_have_text("80%")
        await complete(lro, job, {"text": "live"})
        await expect(row.locator(".status")).to_have_text("completed")
        await expect(row.locator("td.progress span")).to_have_text("100%")
        await expect(tab.row(bobs)).to_have_count(0)
    finally:
        await page.unroute(JOB_LIST)
    assert await page.evaluate("window.__xss === undefined")


async def test_a_job_leaving_the_filter_leaves_the_list(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    await sign_in_slow_resync(tab, "alice")
    await page.locator("#filter-status").select_option("queued")
    job_id = (await post(server, "alice", "/echo", {"text": "filtered"}))["job_id"]
    await expect(tab.row(job_id)).to_be_visible()
    await page.route(JOB_LIST, lambda route: route.abort())
    try:
        job = await claim(lro)
        while job.id != job_id:
            await complete(lro, job)
            job = await claim(lro)
        await expect(tab.row(job_id)).to_have_count(0)  # `removed`: it is processing now
    finally:
        await page.unroute(JOB_LIST)
        await page.locator("#filter-status").select_option("")


async def test_the_batches_panel_lists_the_callers_batches(tab: Tab, server: Served) -> None:
    page = tab.page
    body = {"jobs": [{"operation": "echo", "params": {"text": "b1"}}, {"operation": "ping"}]}
    batch = await post(server, "alice", "/batches", body)
    bobs = await post(server, "bob", "/batches", {"jobs": [{"operation": "ping"}]})
    await tab.sign_in("alice")
    # No job of the batch is on the job list's page: the panel does not derive batches
    # from the jobs on screen any more.
    await page.locator("#filter-status").select_option("failed")
    await expect(tab.row(batch["jobs"][0]["job_id"])).to_have_count(0)
    row = page.locator(f'#batches-body tr[data-batch-id="{batch["batch_id"]}"]')
    await expect(row).to_be_visible()
    await expect(row.locator(".total")).to_have_text("2")
    await expect(row.locator(".count-queued")).to_have_text("2")
    await expect(
        page.locator(f'#batches-body tr[data-batch-id="{bobs["batch_id"]}"]')
    ).to_have_count(0)
    await row.locator("button.batch-link").click()
    await expect(page.locator("#batch-jobs-id")).to_have_text(batch["batch_id"])
    await expect(page.locator("#batch-jobs-body tr")).to_have_count(2)
    await page.locator("#filter-status").select_option("")
