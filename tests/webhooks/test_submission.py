"""The guard wired into submission: a refused callback_url is a 422 problem at submit."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from tests.api.helpers import PREFIX, assert_problem, count_jobs, make_lro

from lro import Settings
from lro.errors import Unprocessable
from lro.submission import check_callback_url


async def public_dns(host: str) -> Sequence[str]:
    if host == "hooks.example":
        return ["93.184.215.14"]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


async def test_a_refused_url_is_unprocessable_with_the_reason_at_callback_url() -> None:
    with pytest.raises(Unprocessable) as caught:
        await check_callback_url("http://2130706433/hook", Settings(), public_dns)
    problem = caught.value.to_problem()
    assert problem["status"] == 422
    reason = "callback_url host '2130706433' is 127.0.0.1, a loopback address"
    assert problem["detail"].startswith(reason)
    [error] = problem["errors"]
    assert error["pointer"] == "/callback_url" and error["detail"] == problem["detail"]


async def test_settings_decide_what_is_allowed() -> None:
    await check_callback_url("https://hooks.example/in", Settings(), public_dns)
    await check_callback_url("http://127.0.0.1:9/", Settings(webhook_allow_private=True))
    with pytest.raises(Unprocessable, match="cloud metadata"):
        await check_callback_url("http://169.254.169.254/", Settings(webhook_allow_private=True))
    with pytest.raises(Unprocessable, match="does not resolve"):
        await check_callback_url("https://nowhere.example/", Settings(), public_dns)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/hook", "http://localhost/hook", "http://[::ffff:10.0.0.1]/",
            "http://0x7f.1/", "gopher://x/", "http://u:p@example.com/"],
)  # fmt: skip
async def test_submit_over_http_refuses_and_stores_nothing(tmp_path: Path, url: str) -> None:
    lro = make_lro(tmp_path, webhook_allow_private=False)
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.post(f"{PREFIX}/echo", json={"text": "a", "callback_url": url})
        body = assert_problem(r, 422)
        assert [e["pointer"] for e in body["errors"]] == ["/callback_url"]
        assert body["detail"].startswith("callback_url ")
        assert await count_jobs(lro) == 0
    finally:
        await lro.stop()


async def test_submit_with_allow_private_accepts_a_loopback_callback(tmp_path: Path) -> None:
    lro = make_lro(tmp_path, webhook_allow_private=True)
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.post(
                f"{PREFIX}/echo", json={"text": "a", "callback_url": "http://127.0.0.1:9/h"}
            )
        assert r.status_code == 202, r.text
        job = await lro.store.get_job(r.json()["job_id"])
        assert job is not None and job.callback_url == "http://127.0.0.1:9/h"
    finally:
        await lro.stop()


async def test_an_overlong_callback_url_is_refused_everywhere(tmp_path: Path) -> None:
    """Issue 13: a 900 KB callback_url was accepted at submit and failed at delivery."""
    huge = "http://127.0.0.1:9/" + "a" * 900_000
    longest = "http://127.0.0.1:9/" + "a" * (2048 - len("http://127.0.0.1:9/"))
    lro = make_lro(tmp_path, webhook_allow_private=True, max_body_bytes=2_000_000)
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for route, body in [
                (f"{PREFIX}/echo", {"text": "a", "callback_url": huge}),
                (f"{PREFIX}/jobs", {"operation": "echo", "params": {"text": "a"},
                                    "callback_url": huge}),
            ]:  # fmt: skip
                problem = assert_problem(await client.post(route, json=body), 422)
                assert [e["pointer"] for e in problem["errors"]] == ["/callback_url"]
            with pytest.raises(Unprocessable, match="at most 2048"):
                await lro.submit("echo", {"text": "a"}, callback_url=huge)
            assert await count_jobs(lro) == 0
            ok = await client.post(f"{PREFIX}/echo", json={"text": "a", "callback_url": longest})
            assert ok.status_code == 202, ok.text
    finally:
        await lro.stop()
