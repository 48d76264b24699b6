"""The dashboard's job panel and long jobs (HTTP-CONTRACT §14): Retry on a failed job runs
it again under its id and the panel follows it; a job's partial-result events in its
stream leave the panel showing the job (they are not states)."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from tests.api.helpers import claim, complete, lease, progress
from tests.browser.conftest import KEYS, Tab, start
from tests.stream.conftest import Served

from lro.models import ErrorDetail, Failure, Status, utcnow
from lro.store.steps import PartialWrite

pytestmark = pytest.mark.asyncio(loop_scope="module")

ERROR = ErrorDetail("https://example.test/problems/x", "Broken", "it broke", "x", False, 1)


async def test_retry_runs_a_failed_job_again_and_the_panel_follows_it(
    tab: Tab, server: Served
) -> None:
    lro, page = server.lro, tab.page
    job = await start(lro, "alice")
    assert await lro.store.fail_jobs([Failure(lease(job), ERROR)], utcnow(), 3600) != [None]
    await tab.sign_in("alice")
    await tab.open_job(job.id)
    await expect(page.locator("#detail-status")).to_have_text("failed")
    await expect(page.locator("#detail-cancel")).to_be_hidden()

    await page.get_by_role("button", name="Retry job").click()
    await expect(page.locator("#detail-status")).to_have_text("queued")
    await expect(page.locator("#detail-retry")).to_be_hidden()
    await expect(page.locator("#detail-error")).to_be_hidden()
    stored = await lro.store.get_job(job.id)
    assert stored is not None and stored.status is Status.QUEUED and stored.error is None
    # Followed live again: the next run shows up.
    claimed = await claim(lro)
    assert claimed.id == job.id
    await expect(page.locator("#detail-status")).to_have_text("processing")


FOLLOW = """async ([key, path, after]) => {
  const { follow } = await import('/dashboard/static/sse.js');
  const api = {
    // The page's own Api, minus its error mapping; resumes after `after` first.
    send: (method, p, { headers, signal }) => fetch('/api/v1' + p, {
      method, signal,
      headers: { 'Last-Event-ID': after, ...headers, Authorization: `Bearer ${key}` },
    }),
  };
  const seen = [];
  await follow(api, path, {
    signal: new AbortController().signal,
    onState: () => {},
    onEvent: (name, job) => seen.push([name, job.job_id, job.status]),
  });
  return seen;
}"""


async def test_partial_events_are_not_taken_for_job_states(tab: Tab, server: Served) -> None:
    """The dashboard's stream reader skips `partial` events: their data is {seq, data},
    and the job panel renders every event it is handed as the job."""
    lro = server.lro
    job = await start(lro, "alice")  # version 2
    steps = lro.store.steps
    assert steps is not None
    await steps.append_partials([PartialWrite(lease(job), [{"row": 1}, {"row": 2}])], utcnow())
    await progress(lro, job, 40, "after the partials")
    await complete(lro, job, {"ok": True})
    await tab.sign_in("alice")
    seen = await tab.page.evaluate(FOLLOW, [KEYS["alice"], f"/jobs/{job.id}/events", "2"])
    assert seen == [["progress", job.id, "processing"], ["completed", job.id, "completed"]]


async def test_partial_events_leave_the_panel_on_the_job(tab: Tab, server: Served) -> None:
    lro, page = server.lro, tab.page
    job = await start(lro, "alice")
    await tab.sign_in("alice")
    await tab.open_job(job.id)
    await expect(page.locator("#detail-live")).to_have_text("following live")
    steps = lro.store.steps
    assert steps is not None
    await steps.append_partials([PartialWrite(lease(job), [{"row": 1}, {"row": 2}])], utcnow())
    await progress(lro, job, 40, "after the partials")
    await expect(page.locator("#detail-step")).to_have_text("after the partials")
    await expect(page.locator("#detail-status")).to_have_text("processing")
    await complete(lro, job, {"ok": True})
    await expect(page.locator("#detail-status")).to_have_text("completed")
