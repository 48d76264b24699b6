"""The dashboard's v2 panels and actions in a real browser (HTTP-CONTRACT §18): the
operations with their limits and queue lag, the live workers (an admin's view, a note for
anyone else), the schedules, Delete on a finished job, bulk cancel / retry of the current
filter followed to their result, phone width, and dark / light mode.

A module of its own, so its server (conftest's module-scoped fixture) is its own: the bulk
tests run a real worker, which takes every due job of this module's store.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from tests.api.helpers import PREFIX, complete
from tests.browser.conftest import KEYS, Tab, start, submit
from tests.stream.conftest import Served
from tests.worker.helpers import running_worker, wait_job

from lro.models import Status, utcnow
from lro.submission import SubmitRequest, submit_jobs

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOSTILE = "<img src=x onerror=window.__xss=1>"


def accept_dialogs(tab: Tab) -> None:
    """Delete and the bulk actions ask first (window.confirm); Playwright would dismiss."""
    tab.page.on("dialog", lambda dialog: dialog.accept())


def store_path(server: Served) -> str:
    url = server.lro.settings.store_url
    assert url.startswith("sqlite:///")
    return url.removeprefix("sqlite:///")


async def test_operations_show_their_limits_and_queue_lag(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    job_id = await submit(lro, "alice", "waiting", priority=-(2**40))
    # Due two hours ago: a lag the panel must show in hours, whenever the test runs.
    with sqlite3.connect(store_path(server)) as db:
        db.execute("UPDATE jobs SET run_at = run_at - 7200000000 WHERE id = ?", (job_id,))
    await tab.sign_in("alice")

    row = page.locator('#operations-body tr[data-operation="echo"]')
    await expect(row.locator("th")).to_have_text("echo")
    await expect(row.locator("td.lag")).to_have_text(re.compile(r"^2 h \d\d min$"))
    queued = await lro.store.job_counts("alice", utcnow())
    echo = sum(c.count for c in queued if c.operation == "echo" and c.status is Status.QUEUED)
    await expect(row.locator("td").nth(5)).to_have_text(str(echo))
    # Every registered operation is listed, the one without jobs too.
    await expect(page.locator('#operations-body tr[data-operation="ping"]')).to_be_visible()
    await expect(page.locator("#operations-note")).to_be_hidden()
    await lro.store.request_cancel(job_id, utcnow(), 3600)


async def test_workers_are_an_admins_view(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    async with running_worker(lro, 3) as worker:
        await tab.sign_in("admin")
        row = page.locator(f'#workers-body tr[data-worker-id="{worker.id}"]')
        await expect(row.locator("td.busy")).to_have_text("0 / 3")
        await expect(page.locator("#workers-note")).to_be_hidden()

        await page.get_by_role("button", name="Sign out").click()
        await tab.sign_in("alice")
        await expect(page.locator("#workers-note")).to_have_text(
            "Only an admin sees the workers: they describe the whole deployment."
        )
        await expect(page.locator("#workers-body tr")).to_have_count(0)


async def test_schedules_are_listed_as_text(tab: Tab, server: Served) -> None:
    page = tab.page
    body = {
        "schedule_id": "nightly-report",
        "operation": "echo",
        "params": {"text": HOSTILE},
        "cron": "0 3 * * *",
        "paused": True,
    }
    async with httpx.AsyncClient(base_url=server.url) as client:
        headers = {"Authorization": f"Bearer {KEYS['bob']}"}
        r = await client.post(f"{PREFIX}/schedules", json=body, headers=headers)
        assert r.status_code == 201, r.text
    await tab.sign_in("bob")
    row = page.locator('#schedules-body tr[data-schedule-id="nightly-report"]')
    await expect(row.locator("td").nth(0)).to_have_text("echo")
    await expect(row.locator("td").nth(1)).to_have_text("cron 0 3 * * * (UTC)")
    await expect(row.locator("td").nth(2)).to_have_text("paused")
    # alice has none: the panel says so.
    await page.get_by_role("button", name="Sign out").click()
    await tab.sign_in("alice")
    await expect(page.locator("#schedules-note")).to_have_text("No schedules.")


async def test_delete_removes_a_finished_job(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    accept_dialogs(tab)
    job = await start(lro, "alice", HOSTILE)
    await tab.sign_in("alice")
    await tab.open_job(job.id)
    await expect(page.locator("#detail-delete")).to_be_hidden()  # still running
    await complete(lro, job, {"text": HOSTILE})
    await expect(page.locator("#detail-status")).to_have_text("completed")

    await page.get_by_role("button", name="Delete job").click()
    await expect(page.locator("#detail-live")).to_have_text("deleted")
    await expect(page.locator("#detail-delete")).to_be_hidden()
    assert await lro.store.get_job(job.id) is None
    await expect(tab.row(job.id)).to_have_count(0)
    assert await page.evaluate("window.__xss") is None


async def test_bulk_cancel_then_retry_of_the_current_filter(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    accept_dialogs(tab)
    # Due in an hour: still queued when the bulk job runs. Bob's job fits the filter
    # but is not alice's, so her bulk action leaves it alone.
    inserted = await submit_jobs(
        lro,
        [SubmitRequest(operation="ping", owner="alice", delay=3600) for _ in range(3)]
        + [SubmitRequest(operation="ping", owner="bob", delay=3600)],
    )
    mine = [i.job.id for i in inserted[:3]]
    bobs = inserted[3].job.id
    await tab.sign_in("alice")
    await page.locator("#filter-operation").select_option("ping")
    for job_id in mine:
        await expect(tab.row(job_id)).to_be_visible()

    async with running_worker(lro, 1):
        await page.get_by_role("button", name="Cancel all").click()
        await expect(page.locator("#bulk-text")).to_have_text("completed 100%: 3 of 3 changed")
        await expect(page.locator("#bulk-job")).to_contain_text("lro.bulk.cancel")
        for job_id in mine:
            await expect(tab.row(job_id).locator(".status")).to_have_text("cancelled")
        bob = await lro.store.get_job(bobs)
        assert bob is not None and bob.status is Status.QUEUED

        await page.locator("#filter-status").select_option("cancelled")
        await page.get_by_role("button", name="Retry all").click()
        # The new bulk job replaces the last one on screen, then runs to its end.
        await expect(page.locator("#bulk-job")).to_contain_text("lro.bulk.retry")
        await expect(page.locator("#bulk-text")).to_have_text("completed 100%: 3 of 3 changed")
        for job_id in mine:
            assert (await wait_job(lro, job_id)).status is Status.COMPLETED
        # The bulk job opens in the job panel like any other.
        await page.locator("#bulk-job").click()
        await expect(page.locator("#detail-operation")).to_have_text("lro.bulk.retry")
    await lro.store.request_cancel(bobs, utcnow(), 3600)


async def test_a_bulk_action_the_server_refuses_is_explained(tab: Tab, server: Served) -> None:
    page = tab.page
    accept_dialogs(tab)
    await tab.sign_in("alice")
    # A C1 control character (U+0085) is no tag: the server refuses the filter (422).
    await page.locator("#filter-tag").fill("night\u0085ly")
    await page.locator("#filter-tag").press("Enter")
    await page.get_by_role("button", name="Cancel all").click()
    await expect(page.locator("#notice")).to_contain_text("tag")
    await expect(page.locator("#bulk-status")).to_be_hidden()


async def test_phone_width_fits_the_screen(tab: Tab, server: Served, tmp_path: Path) -> None:
    page = tab.page
    await start(server.lro, "alice", "a step text long enough to wrap on a phone " * 3)
    await page.set_viewport_size({"width": 375, "height": 812})
    await tab.sign_in("alice")
    await expect(page.locator("#operations-body tr").first).to_be_visible()
    await expect(page.locator("#chart-throughput svg")).to_be_visible()
    # Nothing is wider than the screen: wide tables scroll inside their cards.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    for name in ("Cancel all", "Retry all", "Sign out"):
        box = await page.get_by_role("button", name=name).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    await page.screenshot(path=tmp_path / "phone.png", full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.screenshot(path=tmp_path / "desktop.png", full_page=True)
    assert (tmp_path / "phone.png").stat().st_size > 0
    assert (tmp_path / "desktop.png").stat().st_size > 0


BACKGROUND = "getComputedStyle(document.body).backgroundColor"
LIGHT, DARK = "rgb(244, 245, 248)", "rgb(20, 23, 29)"


async def test_dark_and_light_follow_the_system_and_the_toggle(tab: Tab, server: Served) -> None:
    page = tab.page
    await page.emulate_media(color_scheme="dark")
    await tab.sign_in("alice")
    assert await page.evaluate(BACKGROUND) == DARK
    toggle = page.locator("#theme")
    await expect(toggle).to_have_text("Theme: auto")
    await toggle.click()
    await expect(toggle).to_have_text("Theme: dark")
    await toggle.click()
    await expect(toggle).to_have_text("Theme: light")
    assert await page.evaluate(BACKGROUND) == LIGHT
    # Remembered across a reload of the tab, over the system's choice.
    await page.reload()
    await expect(toggle).to_have_text("Theme: light")
    assert await page.evaluate(BACKGROUND) == LIGHT
    await toggle.click()
    await expect(toggle).to_have_text("Theme: auto")
    assert await page.evaluate(BACKGROUND) == DARK
    await page.emulate_media(color_scheme="light")
    assert await page.evaluate(BACKGROUND) == LIGHT


async def test_the_last_hour_is_charted_from_the_store(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    for _ in range(3):
        await complete(lro, await start(lro, "carol-charts", HOSTILE), {"ok": True})
    # carol's key is not configured: the admin sees everyone's figures, carol's included.
    await tab.sign_in("admin")
    await expect(page.locator("#timeline-charts")).to_be_visible()
    body = (await _timeline(server))["buckets"]
    finished = sum(b["completed"] + b["failed"] + b["cancelled"] for b in body)
    assert finished >= 3
    await expect(page.locator("#timeline-summary")).to_contain_text(f"{finished} finished")
    bars = page.locator("#chart-throughput svg rect.bar-completed")
    counts = [int(c) for c in await bars.evaluate_all("rs => rs.map(r => r.dataset.count)")]
    assert sum(counts) == sum(b["completed"] for b in body)
    await expect(page.locator("#chart-durations svg polyline.line-p95").first).to_be_attached()
    await expect(page.locator("#timeline-note")).to_be_hidden()


async def test_a_store_without_a_timeline_says_so(tab: Tab, server: Served) -> None:
    store = server.lro.store
    part = store.timeline  # type: ignore[attr-defined]
    store.timeline = None  # type: ignore[attr-defined]  # as on Redis, for now
    try:
        await tab.sign_in("alice")
        await expect(tab.page.locator("#timeline-note")).to_have_text(
            "Charts are not available on this store."
        )
        await expect(tab.page.locator("#timeline-charts")).to_be_hidden()
    finally:
        store.timeline = part  # type: ignore[attr-defined]


async def _timeline(server: Served) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        headers = {"Authorization": f"Bearer {KEYS['admin']}"}
        r = await client.get(f"{PREFIX}/stats/timeline", headers=headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body
