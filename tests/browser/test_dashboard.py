"""The dashboard in a real browser: sign-in, scoping, live progress over the event stream,
cancel, hostile job text, and what a revoked key, a wrong key or a busy server look like.

Every wait is Playwright's `expect`, bounded by a generous timeout (conftest.TIMEOUT_MS);
nothing here measures time. Job state is moved by the test through the store's verbs.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import Route, expect
from tests.api.helpers import PREFIX, complete, lease, progress
from tests.browser.conftest import KEYS, Tab, start, submit
from tests.stream.conftest import Served

from lro.models import ErrorDetail, Failure, Status, utcnow
from lro.resource import job_resource
from lro.submission import SubmitRequest, submit_jobs

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOSTILE = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>"
HOOK = "http://127.0.0.1:9/hook"
"""A closed port: the webhook delivery fails and stays pending (a retry much later)."""


async def test_alice_sees_her_own_jobs_and_counts(tab: Tab, server: Served) -> None:
    lro = server.lro
    mine = [await submit(lro, "alice", "one"), await submit(lro, "alice", "two")]
    bobs = await submit(lro, "bob", "bob's")
    await tab.sign_in("alice")

    for job_id in mine:
        await expect(tab.row(job_id)).to_be_visible()
        await expect(tab.row(job_id).locator(".status")).to_have_text("queued")
    await expect(tab.row(bobs)).to_have_count(0)
    await expect(tab.page.locator("#jobs th.owner")).to_be_hidden()
    await expect(tab.page.locator("#admin-badge")).to_be_hidden()
    counts = await lro.store.job_counts("alice", utcnow())
    total = tab.page.locator('#status-counts [data-status="total"] .count')
    await expect(total).to_have_text(str(sum(c.count for c in counts)))


async def test_the_admin_sees_everyones_jobs_with_their_owners(tab: Tab, server: Served) -> None:
    alices = await submit(server.lro, "alice")
    bobs = await submit(server.lro, "bob")
    await tab.sign_in("admin")

    await expect(tab.row(alices).locator("td.owner")).to_have_text("alice")
    await expect(tab.row(bobs).locator("td.owner")).to_have_text("bob")
    await expect(tab.page.locator("#jobs th.owner")).to_be_visible()
    await expect(tab.page.locator("#admin-badge")).to_be_visible()
    everyone = await server.lro.store.job_counts(None, utcnow())
    total = tab.page.locator('#status-counts [data-status="total"] .count')
    await expect(total).to_have_text(str(sum(c.count for c in everyone)))


async def test_the_job_panel_follows_progress_live(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    job = await start(lro, "alice", callback_url=HOOK)
    await tab.sign_in("alice")
    await page.evaluate("window.__notReloaded = true")
    await tab.open_job(job.id)
    await expect(page.locator("#detail-status")).to_have_text("processing")
    await expect(page.locator("#detail-live")).to_have_text("following live")

    for pct, step in ((40, "rendering part one"), (75, "rendering part two")):
        await progress(lro, job, pct, step)
        await expect(page.locator("#detail-step")).to_have_text(step)
        await expect(page.locator("#detail-pct")).to_have_text(f"{pct}%")
        await expect(page.locator("#detail-progress")).to_have_js_property("value", pct)

    await complete(lro, job, {"text": "the end"})
    await expect(page.locator("#detail-status")).to_have_text("completed")
    await expect(page.locator("#detail-live")).to_have_text("finished")
    await expect(page.locator("#detail-result-value")).to_contain_text("the end")
    link = page.locator("#detail-result-link")
    await expect(link).to_have_attribute("href", re.compile(rf"^{PREFIX}/signed/jobs/{job.id}/"))
    # The signed link is what a browser can open without an Authorization header.
    opened = await page.request.get(f"{tab.url}{await link.get_attribute('href')}")
    assert opened.status == 200 and await opened.json() == {"text": "the end"}
    delivery = page.locator("#detail-deliveries-list li")
    await expect(delivery).to_contain_text("job.completed")
    await expect(delivery).to_contain_text(HOOK)
    assert await page.evaluate("window.__notReloaded") is True


async def test_a_dropped_stream_resumes_with_last_event_id(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    job = await start(lro, "alice")
    await progress(lro, job, 10, "before the drop")
    before = await lro.store.get_job(job.id)
    assert before is not None
    sent: list[str | None] = []

    async def drop_the_first_stream(route: Route) -> None:
        sent.append((await route.request.all_headers()).get("last-event-id"))
        if len(sent) > 1:
            await route.continue_()
            return
        # The first connection sends the current state, then ends as a dropped one does
        # (asking for a quick reconnect, as a server may).
        data = json.dumps(job_resource(before, PREFIX))
        body = f"retry: 50\nid: {before.version}\nevent: progress\ndata: {data}\n\n"
        await route.fulfill(status=200, content_type="text/event-stream", body=body)

    # The job panel's stream only, not the live list's (/jobs/events).
    await page.route(re.compile(r"/jobs/[^/]+/events$"), drop_the_first_stream)
    await tab.sign_in("alice")
    await tab.open_job(job.id)
    await expect(page.locator("#detail-step")).to_have_text("before the drop")

    await progress(lro, job, 60, "after the drop")
    await expect(page.locator("#detail-step")).to_have_text("after the drop")
    await expect(page.locator("#detail-live")).to_have_text("following live")
    # The panel opens at 0 (the whole history, for its timeline) and resumes at the last
    # event it got.
    assert sent[:2] == ["0", str(before.version)]


async def test_cancel_cancels_a_queued_job(tab: Tab, server: Served) -> None:
    job_id = await submit(server.lro, "alice", "to cancel")
    await tab.sign_in("alice")
    await tab.open_job(job_id)
    await expect(tab.page.locator("#detail-status")).to_have_text("queued")

    await tab.page.get_by_role("button", name="Cancel job").click()
    await expect(tab.page.locator("#detail-status")).to_have_text("cancelled")
    await expect(tab.page.locator("#detail-cancel")).to_be_hidden()
    job = await server.lro.store.get_job(job_id)
    assert job is not None and job.status is Status.CANCELLED


async def test_cancel_asks_a_running_job_to_stop(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    job = await start(lro, "alice")
    await tab.sign_in("alice")
    await tab.open_job(job.id)
    await page.get_by_role("button", name="Cancel job").click()

    status = page.locator("#detail-status")
    await expect(status).to_have_text("processing (cancel requested)")
    await expect(page.locator("#detail-cancel")).to_be_disabled()
    # The worker notices and stops (played here through the store's verb).
    await lro.store.cancel_jobs([lease(job)], utcnow(), 3600)
    await expect(status).to_have_text("cancelled")
    await expect(page.locator("#detail-live")).to_have_text("finished")


async def test_job_text_is_shown_as_text_and_never_runs(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    running = await start(lro, "alice", HOSTILE)
    await progress(lro, running, 30, HOSTILE)
    done = await start(lro, "alice", HOSTILE)
    await progress(lro, done, 50, HOSTILE)
    await complete(lro, done, {"text": HOSTILE})
    broken = await start(lro, "alice", HOSTILE)
    error = ErrorDetail(
        type="https://example.test/problems/x",
        title=HOSTILE,
        detail=HOSTILE,
        code=HOSTILE,
        retryable=False,
        attempts=1,
    )
    assert await lro.store.fail_jobs([Failure(lease(broken), error)], utcnow(), 3600) != [None]

    await tab.sign_in("alice")
    await expect(tab.row(running.id).locator("td.step")).to_have_text(HOSTILE)
    await tab.open_job(done.id)
    await expect(page.locator("#detail-step")).to_have_text(HOSTILE)
    await expect(page.locator("#detail-result-value")).to_contain_text(HOSTILE)
    await expect(page.locator("#detail-params-value")).to_contain_text(HOSTILE)
    await tab.open_job(broken.id)
    await expect(page.locator("#detail-error-title")).to_have_text(HOSTILE)
    await expect(page.locator("#detail-error-detail")).to_have_text(HOSTILE)
    await expect(page.locator("#detail-error-code")).to_have_text(HOSTILE)

    await expect(page.locator("img")).to_have_count(0)
    await expect(page.locator("body script")).to_have_count(0)
    assert await page.evaluate("window.__xss") is None


async def test_filters_and_pages(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    requests = [SubmitRequest(operation="ping", owner="bob") for _ in range(27)]
    pings = [i.job.id for i in await submit_jobs(lro, requests)]
    await lro.store.request_cancel(pings[0], utcnow(), 3600)
    await tab.sign_in("bob")

    await page.locator("#filter-operation").select_option("ping")
    rows = page.locator("#jobs-body tr")
    await expect(rows).to_have_count(25)
    first_page = await rows.evaluate_all("rows => rows.map(r => r.dataset.jobId)")
    await page.get_by_role("button", name="Older").click()
    await expect(page.locator("#page-number")).to_have_text("page 2")
    await expect(rows).to_have_count(2)
    second_page = await rows.evaluate_all("rows => rows.map(r => r.dataset.jobId)")
    assert sorted(first_page + second_page) == sorted(pings)
    await expect(page.get_by_role("button", name="Older")).to_be_disabled()
    await page.get_by_role("button", name="Newer").click()
    await expect(rows).to_have_count(25)

    await page.locator("#filter-status").select_option("cancelled")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-job-id", pings[0])


async def test_a_wrong_key_shows_the_sign_in_error(tab: Tab) -> None:
    await tab.open()
    await tab.submit_key("not-a-key")
    error = tab.page.locator("#sign-in-error")
    await expect(error).to_have_text("That API key was not accepted.")
    await expect(tab.page.locator("#dashboard")).to_be_hidden()
    assert await tab.page.evaluate("sessionStorage.length") == 0

    await tab.submit_key(KEYS["bob"])
    await expect(tab.page.locator("#principal")).to_have_text("bob")
    await expect(error).to_be_hidden()


async def test_the_key_stays_in_the_tab_until_sign_out(tab: Tab) -> None:
    page = tab.page
    await tab.sign_in("bob")
    stored = "sessionStorage.getItem('lro.dashboard.key')"
    assert await page.evaluate(stored) == KEYS["bob"]
    await page.reload()  # the navigation itself answers 401; the stored key signs in
    await expect(page.locator("#principal")).to_have_text("bob")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#sign-in")).to_be_visible()
    await expect(page.locator("#sign-in-error")).to_be_hidden()
    assert await page.evaluate(stored) is None
    await page.reload()
    await expect(page.locator("#sign-in")).to_be_visible()
    await expect(page.locator("#dashboard")).to_be_hidden()


async def test_a_revoked_key_returns_to_sign_in(tab: Tab, server: Served) -> None:
    await tab.sign_in("alice")
    settings = server.lro.settings
    original = settings.api_keys
    settings.api_keys = f"bob:{KEYS['bob']},admin:{KEYS['admin']},alice:alices-new-key-0123"
    try:
        # The next refresh gets a 401.
        await expect(tab.page.locator("#sign-in-error")).to_have_text(
            "Your API key is no longer accepted; sign in again."
        )
        await expect(tab.page.locator("#dashboard")).to_be_hidden()
        await tab.submit_key("alices-new-key-0123")
        await expect(tab.page.locator("#principal")).to_have_text("alice")
    finally:
        settings.api_keys = original


async def test_a_busy_server_shows_a_notice_until_it_answers(tab: Tab) -> None:
    await tab.sign_in("alice")
    refused: list[str] = []

    async def busy_once(route: Route) -> None:
        if refused:
            await route.continue_()
            return
        refused.append(route.request.url)
        problem = {"type": "about:blank", "title": "Busy", "status": 503, "detail": "busy"}
        await route.fulfill(
            status=503,
            headers={"Retry-After": "1"},
            content_type="application/problem+json",
            body=json.dumps(problem),
        )

    await tab.page.route(re.compile(r"/stats$"), busy_once)
    await tab.page.locator("#filter-status").select_option("queued")  # refresh now
    notice = tab.page.locator("#notice")
    await expect(notice).to_have_text("The server is unavailable (HTTP 503); trying again in 1 s.")
    await expect(notice).to_be_hidden()  # the retry went through
    await expect(tab.page.locator("#dashboard")).to_be_visible()


async def test_the_event_stream_parser(tab: Tab) -> None:
    """The SSE parser on the corner cases of the format, in the browser itself."""
    await tab.sign_in("alice")
    events = await tab.page.evaluate(
        """async () => {
          const { SseParser } = await import('/dashboard/static/sse.js');
          const parser = new SseParser();
          const out = [];
          const chunks = ['\\ufeffid: 1\\r', '\\nevent: progress\\r\\ndata: {"a"',
                          ':1}\\n\\n: heartbeat\\n\\ndata: two\\ndata: lines\\n',
                          '\\nretry: 2500\\nid: 7\\nevent: completed\\rdata:x\\r', '\\r\\n'];
          for (const chunk of chunks) out.push(...parser.push(chunk));
          return { events: out, retry: parser.retry };
        }"""
    )
    assert events == {
        "events": [
            {"type": "progress", "data": '{"a":1}', "lastEventId": "1"},
            {"type": "message", "data": "two\nlines", "lastEventId": "1"},
            {"type": "completed", "data": "x", "lastEventId": "7"},
        ],
        "retry": 2500,
    }
