"""The job panel of a long job in a real browser (HTTP-CONTRACT §14, §15): its durable
steps, its partial results (read, then live from the event stream), its tags, metadata
and batch, and its error with the attempts it took. Jobs are submitted through the HTTP
API and run by a real worker; the handler waits on gates the test opens, so what the page
shows at each point is fixed by the test, never by a clock. Hostile step names and
partial values must show as text.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Route, expect
from pydantic import BaseModel
from tests.api.helpers import PREFIX, make_lro
from tests.browser.conftest import KEY_SPEC, KEYS, Tab
from tests.stream.conftest import Served, serve
from tests.worker.helpers import running_worker, wait_job

from lro import JobContext, JobError
from lro.models import Status

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOSTILE = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>"
GATES: dict[str, asyncio.Event] = {}
"""The handler waits on GATES[params.gate] between its two halves."""


class ReportParams(BaseModel):
    gate: str
    fail: bool = False


def _rows(n: int) -> int:
    return n


async def report(ctx: JobContext, params: ReportParams) -> dict[str, Any]:
    """Two steps and three partials, with the test's gate between the halves."""
    await ctx.run_step(f"load {HOSTILE}", _rows, 2)
    ctx.partial({"row": 1, "name": HOSTILE})
    ctx.partial(HOSTILE)
    await ctx.progress(25, "waiting for the gate")
    await ctx.progress(50, "waiting for the gate")  # the timeline's one line for both
    await GATES[params.gate].wait()
    if params.fail:
        raise JobError("the printer is on fire", code="printer_fire", title="Printing failed")
    await ctx.run_step("write", _rows, 1)
    ctx.partial({"row": 3})
    return {"rows": 3}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    """conftest's server plus the `report` operation (this module's own store)."""
    lro = make_lro(tmp_path_factory.mktemp("job-page"), api_keys=KEY_SPEC)
    lro.operation("report", route="/reports", max_attempts=2, retry_base_seconds=0)(report)
    async for served in serve(lro):
        yield served


async def submit_report(server: Served, gate: str, **body: Any) -> str:
    GATES[gate] = asyncio.Event()
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post(
            f"{PREFIX}/reports",
            json={"gate": gate, **body},
            headers={"Authorization": f"Bearer {KEYS['alice']}"},
        )
        assert r.status_code == 202, r.text
        job_id: str = r.json()["job_id"]
        return job_id


async def test_steps_and_partials_show_as_they_happen(
    tab: Tab, server: Served, tmp_path: Path
) -> None:
    lro, page = server.lro, tab.page
    job_id = await submit_report(
        server, "live", tags=["night", HOSTILE[:60]], metadata={"customer": HOSTILE}
    )
    async with running_worker(lro, 1):
        await wait_job(lro, job_id, lambda job: job.step == "waiting for the gate")
        await tab.sign_in("alice")
        await tab.open_job(job_id)
        await expect(page.locator("#detail-live")).to_have_text("following live")

        steps = page.locator("#detail-steps-list li")
        await expect(steps).to_have_count(1)
        await expect(steps.nth(0).locator(".name")).to_have_text(f"load {HOSTILE}")
        await expect(steps.nth(0).locator(".status")).to_have_text("completed")
        await expect(steps.nth(0)).to_have_attribute("data-attempt", "1")

        partials = page.locator("#detail-partials-list li")
        await expect(partials).to_have_count(2)
        await expect(partials.nth(0).locator("code")).to_have_text(
            '{"row":1,"name":"' + HOSTILE + '"}'
        )
        await expect(partials.nth(1).locator("code")).to_have_text(HOSTILE)
        await expect(page.locator("#detail-partials-count")).to_have_text("2 so far")
        await expect(page.locator("#detail-tags")).to_have_text(f"night, {HOSTILE[:60]}")
        await expect(page.locator("#detail-metadata-value")).to_contain_text(HOSTILE)
        await page.screenshot(path=tmp_path / "desktop.png", full_page=True)

        GATES["live"].set()
        # The third partial arrives on the open stream, the second step with the next read.
        await expect(partials).to_have_count(3)
        await expect(partials.nth(2)).to_have_attribute("data-seq", "3")
        await expect(partials.nth(2).locator("code")).to_have_text('{"row":3}')
        await expect(page.locator("#detail-status")).to_have_text("completed")
        await expect(steps).to_have_count(2)
        await expect(steps.nth(1).locator(".name")).to_have_text("write")
        await expect(page.locator("#detail-result-value")).to_contain_text('"rows": 3')

    await page.set_viewport_size({"width": 375, "height": 812})
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    await page.screenshot(path=tmp_path / "phone.png", full_page=True)
    assert (tmp_path / "desktop.png").stat().st_size > 0
    assert (tmp_path / "phone.png").stat().st_size > 0
    # Nothing in the job's text ran as markup.
    assert await page.evaluate("window.__xss === undefined")
    assert await page.locator("#detail img, #detail script").count() == 0


async def test_a_failed_job_shows_its_error_and_attempts(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    job_id = await submit_report(server, "fail", fail=True)
    GATES["fail"].set()  # both attempts run through and fail
    async with running_worker(lro, 1):
        job = await wait_job(lro, job_id)
    assert job.status is Status.FAILED and job.attempt == 2
    await tab.sign_in("alice")
    await tab.open_job(job_id)
    await expect(page.locator("#detail-status")).to_have_text("failed")
    await expect(page.locator("#detail-attempt")).to_have_text("2 of 2")
    await expect(page.locator("#detail-error-title")).to_have_text("Printing failed")
    await expect(page.locator("#detail-error-detail")).to_have_text("the printer is on fire")
    await expect(page.locator("#detail-error-code")).to_have_text("printer_fire")
    await expect(page.locator("#detail-error-attempts")).to_have_text(", after 2 attempts")
    # The first step completed in attempt 1 and was not run again by attempt 2.
    step = page.locator("#detail-steps-list li").nth(0)
    await expect(step.locator(".status")).to_have_text("completed")
    await expect(step).to_have_attribute("data-attempt", "1")
    # Partials are kept across attempts: two from each run.
    await expect(page.locator("#detail-partials-list li")).to_have_count(4)
    await expect(page.locator("#detail-metadata")).to_be_hidden()


async def test_a_batch_job_names_its_batch_and_what_it_waits_on(tab: Tab, server: Served) -> None:
    page = tab.page
    body = {
        "jobs": [
            {"operation": "echo", "params": {"text": "first"}, "ref": "a"},
            {"operation": "echo", "params": {"text": "then"}, "depends_on": ["a"]},
        ]
    }
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post(
            f"{PREFIX}/batches", json=body, headers={"Authorization": f"Bearer {KEYS['alice']}"}
        )
        assert r.status_code == 202, r.text
    batch = r.json()
    first, second = (j["job_id"] for j in batch["jobs"])
    await tab.sign_in("alice")
    await tab.open_job(second)
    await expect(page.locator("#detail-batch")).to_have_text(batch["batch_id"])
    await expect(page.locator("#detail-waiting")).to_have_text(first)


async def submit_echo(server: Served, text: str) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post(
            f"{PREFIX}/echo",
            json={"text": text},
            headers={"Authorization": f"Bearer {KEYS['alice']}"},
        )
        assert r.status_code == 202, r.text
        job_id: str = r.json()["job_id"]
        return job_id


async def test_search_narrows_the_list_and_holds_back_bulk_actions(
    tab: Tab, server: Served
) -> None:
    lro, page = server.lro, tab.page
    failing = await submit_report(server, "search", fail=True)
    GATES["search"].set()
    async with running_worker(lro, 1):
        assert (await wait_job(lro, failing)).status is Status.FAILED
    one, two = await submit_echo(server, "one"), await submit_echo(server, "two")
    await tab.sign_in("alice")
    await expect(tab.row(one)).to_be_visible()

    search = page.locator("#filter-q")
    await search.fill(one[:13])  # an id prefix
    await search.press("Enter")
    await expect(tab.row(two)).to_have_count(0)
    await expect(tab.row(one)).to_be_visible()
    await expect(page.locator("#jobs-body tr")).to_have_count(1)
    await expect(page.get_by_role("button", name="Cancel all")).to_be_disabled()
    await expect(page.get_by_role("button", name="Retry all")).to_be_disabled()
    await expect(page.locator("#bulk-no-search")).to_be_visible()

    await search.fill("printing FAILED")  # the error title, in any case
    await search.press("Enter")
    await expect(tab.row(failing)).to_be_visible()
    await expect(tab.row(one)).to_have_count(0)

    await search.fill(HOSTILE)  # matches nothing, and is sent as a query value only
    await search.press("Enter")
    await expect(page.locator("#jobs-empty")).to_be_visible()

    await search.fill("")
    await search.press("Enter")
    await expect(tab.row(one)).to_be_visible()
    await expect(tab.row(two)).to_be_visible()
    await expect(page.get_by_role("button", name="Cancel all")).to_be_enabled()
    await expect(page.locator("#bulk-no-search")).to_be_hidden()
    assert await page.evaluate("window.__xss === undefined")


async def submit_batch(server: Served, who: str, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post(
            f"{PREFIX}/batches",
            json={"jobs": jobs},
            headers={"Authorization": f"Bearer {KEYS[who]}"},
        )
        assert r.status_code == 202, r.text
        batch: dict[str, Any] = r.json()
        return batch


async def test_batches_show_progress_counts_and_their_jobs(
    tab: Tab, server: Served, tmp_path: Path
) -> None:
    lro, page = server.lro, tab.page
    GATES["batch"] = asyncio.Event()
    batch = await submit_batch(
        server,
        "alice",
        [
            {"operation": "report", "params": {"gate": "batch"}, "ref": "slow"},
            {"operation": "echo", "params": {"text": "after"}, "depends_on": ["slow"]},
            {"operation": "echo", "params": {"text": "alone"}},
        ],
    )
    slow, after, alone = (j["job_id"] for j in batch["jobs"])
    bobs = await submit_batch(server, "bob", [{"operation": "echo", "params": {"text": "b"}}])
    row = page.locator(f'#batches-body tr[data-batch-id="{batch["batch_id"]}"]')
    cells = row.locator("td")
    async with running_worker(lro, 2):
        await wait_job(lro, alone)
        await wait_job(lro, slow, lambda job: job.step == "waiting for the gate")
        await tab.sign_in("alice")
        await expect(row).to_be_visible()
        await expect(cells.nth(1)).to_have_text("processing")
        await expect(row.locator(".count-queued")).to_have_text("1")
        await expect(row.locator(".count-processing")).to_have_text("1")
        await expect(row.locator(".count-completed")).to_have_text("1")
        await expect(row.locator(".total")).to_have_text("3")
        # Bob's batch is not alice's: not listed.
        await expect(
            page.locator(f'#batches-body tr[data-batch-id="{bobs["batch_id"]}"]')
        ).to_have_count(0)

        await row.locator("button.batch-link").click()
        await expect(page.locator("#batch-jobs-id")).to_have_text(batch["batch_id"])
        jobs = page.locator("#batch-jobs-body tr")
        await expect(jobs).to_have_count(3)
        waiting = page.locator(f'#batch-jobs-body tr[data-job-id="{after}"] td').nth(5)
        await expect(waiting).to_have_text(slow[:8])
        await page.screenshot(path=tmp_path / "desktop.png", full_page=True)
        await page.locator(f'#batch-jobs-body tr[data-job-id="{slow}"] button').click()
        await expect(page.locator("#detail-id")).to_have_text(slow)

        GATES["batch"].set()
        await wait_job(lro, after)
        await expect(cells.nth(1)).to_have_text("completed")
        await expect(row.locator(".count-completed")).to_have_text("3")
        await expect(cells.nth(2)).to_contain_text("100%")
        await expect(
            page.locator(f'#batch-jobs-body tr[data-job-id="{after}"] .status')
        ).to_have_text("completed")

    # By id: someone else's batch, or hostile text, is "no batch", as text.
    for wrong in (bobs["batch_id"], HOSTILE):
        await page.locator("#batch-id").fill(wrong)
        await page.get_by_role("button", name="Open batch").click()
        await expect(page.locator("#batches-note")).to_have_text(
            f"There is no batch {wrong} (or it expired)."
        )
    # The job panel's batch link selects the batch again.
    await tab.open_job(after)
    await page.locator("#detail-batch").click()
    await expect(page.locator("#batch-jobs-id")).to_have_text(batch["batch_id"])
    await page.set_viewport_size({"width": 375, "height": 812})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await page.screenshot(path=tmp_path / "phone.png", full_page=True)
    assert (tmp_path / "desktop.png").stat().st_size > 0
    assert (tmp_path / "phone.png").stat().st_size > 0
    assert await page.evaluate("window.__xss === undefined")


async def test_the_open_jobs_row_follows_its_stream_between_refreshes(
    tab: Tab, server: Served
) -> None:
    lro, page = server.lro, tab.page
    job_id = await submit_report(server, "row")
    async with running_worker(lro, 1):
        await wait_job(lro, job_id, lambda job: job.step == "waiting for the gate")
        await tab.sign_in("alice")
        await expect(tab.row(job_id).locator(".status")).to_have_text("processing")

        # From here every read of the list fails: only the panel's stream can move the row.
        async def refuse(route: Route) -> None:
            await route.abort()

        await page.route(re.compile(r"/api/v1/jobs\?"), refuse)
        await tab.open_job(job_id)
        await expect(page.locator("#detail-live")).to_have_text("following live")
        GATES["row"].set()
        await expect(page.locator("#detail-status")).to_have_text("completed")
        await expect(tab.row(job_id).locator(".status")).to_have_text("completed")
        await expect(tab.row(job_id).locator("td.progress span")).to_have_text("100%")
        await expect(tab.row(job_id)).to_have_class("selected")
        await expect(page.locator("#notice")).to_be_visible()  # the refresh did fail
    await page.unroute(re.compile(r"/api/v1/jobs\?"))


async def test_the_timeline_replays_every_change_and_coalesces_progress(
    tab: Tab, server: Served
) -> None:
    lro, page = server.lro, tab.page
    job_id = await submit_report(server, "timeline", fail=True)
    GATES["timeline"].set()  # both attempts run through and fail
    async with running_worker(lro, 1):
        assert (await wait_job(lro, job_id)).status is Status.FAILED
    await tab.sign_in("alice")
    await tab.open_job(job_id)
    # The panel shows the job as it is, never a replayed earlier state...
    await expect(page.locator("#detail-status")).to_have_text("failed")
    # ...and the timeline every change from the first, one line per run of progress.
    lines = page.locator("#detail-timeline-list li span")
    await expect(lines).to_have_text(
        [
            "queued · attempt 0",
            "processing · attempt 1",
            "progress 50% · attempt 1 · waiting for the gate",
            re.compile(r"^queued · attempt 1"),
            "processing · attempt 2",
            "progress 50% · attempt 2 · waiting for the gate",
            re.compile(r"^failed · attempt 2"),
        ]
    )
    await expect(page.locator("#detail-timeline-list li time")).to_have_count(7)
    await expect(page.locator("#detail-status")).to_have_text("failed")
