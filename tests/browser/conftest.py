"""Browser tests of the dashboard: Playwright driving Debian's Chromium against a real
uvicorn server with API keys for alice, bob and an admin.

One server and one browser serve the whole module, in the module's event loop, so a test
moves jobs through the store's own verbs (tests/api/helpers.py) while the page watches:
progress is driven by the test, never by a clock. Every test gets a page of its own (so a
fresh sessionStorage) and fails if the page reported a Content-Security-Policy
violation or a script error.

Chromium comes from Debian (`apt-get install chromium`; .ci/run does it), never from
`playwright install`, which would download a browser. Without it these tests fail in CI
(CI=true) and are skipped with a message on a developer machine, as the PostgreSQL
tests are (tests/support/postgres.py).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Locator, Page, async_playwright, expect
from tests.api.helpers import claim, make_lro
from tests.stream.conftest import Served, serve

from lro import LRO
from lro.models import Job
from lro.submission import SubmitRequest, submit_jobs

CHROMIUM = os.environ.get("LRO_TEST_CHROMIUM", "/usr/bin/chromium")
KEYS = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789", "admin": "admin-key-0123"}
KEY_SPEC = ",".join(f"{p}:{k}" for p, k in KEYS.items())
TIMEOUT_MS = 15_000
"""Generous: a bound on waiting for what must happen, never a measure of speed."""

expect.set_options(timeout=TIMEOUT_MS)

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI} at ${where}`);
});
"""
"""Injected by Playwright before any page script (outside the page's CSP)."""


def chromium() -> str:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    message = (
        f"Chromium not found at {CHROMIUM}; install Debian's package "
        f"(apt-get install chromium) or set LRO_TEST_CHROMIUM to run the browser tests"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    lro = make_lro(
        tmp_path_factory.mktemp("dashboard"),
        api_keys=KEY_SPEC,
        result_link_secret="browser-link-secret",
    )
    async for served in serve(lro):
        yield served


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[BrowserContext]:
    """One browser context: every test's page (tab) has a sessionStorage of its own."""
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield await launched.new_context()
        finally:
            await launched.close()


@dataclass
class Tab:
    """A dashboard page in its own browser context, and what it reported."""

    page: Page
    url: str
    console_violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def open(self) -> None:
        await self.page.goto(f"{self.url}/dashboard")

    async def sign_in(self, who: str) -> None:
        """Open the page and sign in with `who`'s key (or any other string)."""
        await self.open()
        await self.submit_key(KEYS.get(who, who))
        await expect(self.page.locator("#dashboard")).to_be_visible()
        await expect(self.page.locator("#principal")).to_have_text(who)

    async def submit_key(self, key: str) -> None:
        await expect(self.page.locator("#sign-in")).to_be_visible()
        await self.page.locator("#key").fill(key)
        await self.page.get_by_role("button", name="Sign in").click()

    def row(self, job_id: str) -> Locator:
        return self.page.locator(f'#jobs-body tr[data-job-id="{job_id}"]')

    async def open_job(self, job_id: str) -> None:
        await self.row(job_id).locator("button.job-link").click()
        await expect(self.page.locator("#detail-id")).to_have_text(job_id)

    async def violations(self) -> list[str]:
        recorded: list[str] = await self.page.evaluate("window.__cspViolations || []")
        return recorded + self.console_violations


@pytest_asyncio.fixture(loop_scope="module")
async def tab(browser: BrowserContext, server: Served) -> AsyncIterator[Tab]:
    page = await browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.add_init_script(RECORD_VIOLATIONS)
    opened = Tab(page, server.url)

    def on_console(message: Any) -> None:
        # Chromium also reports every blocked load or inline code on the console.
        if "Content Security Policy" in message.text:
            opened.console_violations.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    try:
        yield opened
        violations = await opened.violations()
    finally:
        await page.close()
    assert violations == [], "the page broke its Content-Security-Policy"
    assert opened.errors == [], "the page's scripts threw"


# -- jobs, moved by the test ------------------------------------------------------------
_priorities = itertools.count(2**40)


async def submit(lro: LRO, owner: str, text: str = "hello", **kw: Any) -> str:
    [inserted] = await submit_jobs(
        lro, [SubmitRequest(operation="echo", params={"text": text}, owner=owner, **kw)]
    )
    return inserted.job.id


async def start(lro: LRO, owner: str, text: str = "hello", **kw: Any) -> Job:
    """A job of `owner`'s, claimed as a worker would: processing at 0%. Its priority is
    above every earlier job's, so the claim takes this one whatever else is queued."""
    job_id = await submit(lro, owner, text, priority=next(_priorities), **kw)
    job = await claim(lro)
    assert job.id == job_id, "the claim took another job"
    return job
