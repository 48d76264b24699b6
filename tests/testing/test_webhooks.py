"""The harness's webhook receiver: real deliveries from lro's dispatcher, recorded with
their headers and bodies, signatures checked with the reference library; the SSRF guard
lets through the receiver's host only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from lro import LRO, JobContext, PermanentError, Settings
from lro.errors import Unprocessable
from lro.testing import run

OWN_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZn"


def app_with(settings: Settings | None = None) -> LRO:
    app = LRO(settings=settings)

    @app.operation("ok")
    async def ok(ctx: JobContext) -> str:
        return "fine"

    @app.operation("broken")
    async def broken(ctx: JobContext) -> None:
        raise PermanentError("out of paper", code="no_paper")

    return app


async def test_a_delivery_is_recorded_and_its_signature_verifies(tmp_path: Path) -> None:
    async with run(app_with(), path=tmp_path) as t:
        job = await t.submit("ok", callback_url=t.webhooks.url)
        failing = await t.submit("broken", callback_url=f"{t.webhooks.url}/failures?n=1")
        await t.run_until_idle()
        hooks = await t.webhooks.wait_for(2)
        assert len(t.webhooks) == 2 and list(t.webhooks) == hooks
        [done] = t.webhooks.for_job(job.id)
        [failed] = t.webhooks.for_job(failing.id)
    assert (done.path, done.type, done.data["status"], done.data["result"]) == (
        "/webhook",
        "job.completed",
        "completed",
        "fine",
    )
    assert (failed.path, failed.type, failed.data["error"]["code"]) == (
        "/webhook/failures?n=1",
        "job.failed",
        "no_paper",
    )
    assert done.headers["content-type"] == "application/json"
    assert done.id == done.headers["webhook-id"] != failed.id
    assert done.verify() == done.json()
    assert done.verify(t.webhook_secret) == done.json()
    with pytest.raises(WebhookVerificationError):
        done.verify(OWN_SECRET)


ROTATING = f"{OWN_SECRET}, whsec_b2xkZXItc2VjcmV0LW9sZGVyLXNlY3JldC0x"


@pytest.mark.parametrize("given_to", ["the LRO", "run"])
async def test_a_webhook_secret_and_allowed_hosts_of_ones_own_are_kept(
    tmp_path: Path, given_to: str
) -> None:
    own = {"webhook_secret": ROTATING, "webhook_allowed_hosts": "hooks.internal"}
    app = app_with(Settings(**own) if given_to == "the LRO" else None)
    async with run(app, path=tmp_path, settings=own if given_to == "run" else None) as t:
        assert t.webhook_secret == OWN_SECRET  # the newest of the two
        assert t.settings.webhook_allowed_hosts == "hooks.internal,127.0.0.1"
        await t.submit("ok", callback_url=t.webhooks.url)
        await t.run_until_idle()
        [hook] = await t.webhooks.wait_for(1)
    assert hook.verify(OWN_SECRET)["type"] == "job.completed"
    assert hook.verify("whsec_b2xkZXItc2VjcmV0LW9sZGVyLXNlY3JldC0x")["type"] == "job.completed"


async def test_a_cancelled_job_sends_its_webhook_without_a_worker(tmp_path: Path) -> None:
    async with run(app_with(), path=tmp_path) as t:
        job = await t.submit("ok", callback_url=t.webhooks.url)
        answer = await t.client.post(f"/api/v1/jobs/{job.id}/cancel")
        assert answer.status_code == 202, answer.text
        [hook] = await t.webhooks.wait_for(1)
    assert (hook.type, hook.job_id, hook.data["status"]) == ("job.cancelled", job.id, "cancelled")


@pytest.mark.parametrize(
    "url",
    ["http://localhost/hook", "http://127.0.0.2/hook", "http://10.0.0.1/hook", "http://[::1]/"],
)
async def test_other_private_addresses_stay_refused(tmp_path: Path, url: str) -> None:
    async with run(app_with(), path=tmp_path) as t:
        with pytest.raises(Unprocessable, match="callback_url"):
            await t.submit("ok", callback_url=url)
        assert await t.jobs() == []


async def test_waiting_for_webhooks_that_do_not_come_says_what_came(tmp_path: Path) -> None:
    async with run(app_with(), path=tmp_path) as t:
        job = await t.submit("ok", callback_url=t.webhooks.url)
        await t.run_until_idle()
        await t.webhooks.wait_for(1)
        with pytest.raises(TimeoutError) as caught:
            await t.webhooks.wait_for(2, timeout=0.01)
    assert str(caught.value).startswith(
        f"1 of 2 webhooks arrived within 0.01 s: job.completed for job {job.id}. "
    )
    assert t.webhooks.url in str(caught.value)


async def test_the_receiver_refuses_what_is_not_a_webhook(tmp_path: Path) -> None:
    async with run(app_with(), path=tmp_path) as t:
        async with httpx.AsyncClient() as http:

            async def chunks() -> AsyncIterator[bytes]:
                yield b"{}"

            chunked = await http.post(t.webhooks.url, content=chunks())
        reader, writer = await asyncio.open_connection("127.0.0.1", t.webhooks.port)
        writer.write(b"nonsense\r\n\r\n")
        garbage = await reader.read()
        writer.close()
        await writer.wait_closed()
        assert len(t.webhooks) == 0
    assert chunked.status_code == 411
    assert garbage.startswith(b"HTTP/1.1 400 Bad Request\r\n")
