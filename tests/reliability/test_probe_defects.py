"""Regression scenarios for defects an outside probe found (issue 13, item 6), the ones
that fit a suite of real processes: a NUL character (U+0000) in a request or in a
handler's output, concurrent retries of one webhook delivery, and a database that
refuses connections (SQLSTATE 55000). Each holds its defect as a strict xfail where it
shows, so it turns red (XPASS) once fixed, to have the mark removed.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import urllib.parse
from typing import Any

import httpx
import pytest
from tests.reliability.harness import Rig, is_terminal
from tests.reliability.scenarios import backends, na
from tests.reliability.verdict import Verdict
from tests.support.postgres import ADMIN_URL
from tests.support.procs import API
from tests.support.receiver import Receiver

NUL_CURSOR = base64.urlsafe_b64encode(b"1700000000000000:ab\x00c").decode().rstrip("=")
NUL_REQUESTS = [
    ("GET", "/jobs/abc%00def"),
    ("HEAD", "/jobs/abc%00def"),
    ("GET", "/jobs/abc%00def/result"),
    ("GET", "/jobs/abc%00def/events"),
    ("POST", "/jobs/abc%00def/cancel"),
    ("GET", "/jobs/abc%00def/deliveries"),
    ("DELETE", "/jobs/abc%00def"),
    ("GET", "/jobs?operation=%00"),
    ("GET", f"/jobs?cursor={NUL_CURSOR}"),
]


@pytest.mark.smoke
@backends()
def test_nul_in_a_request_is_never_a_500(rig: Rig, verdict: Verdict) -> None:
    api = rig.start_api()
    statuses: dict[str, int] = {}
    with api.client() as client:
        for method, path in NUL_REQUESTS:
            statuses[f"{method} {path}"] = client.request(method, f"{API}{path}").status_code
        submit = client.post(f"{API}/work", json={"tag": "a\u0000b"})
        statuses["POST /work tag=a\\u0000b"] = submit.status_code
    verdict.update(
        requests=len(statuses),
        answers_5xx=sum(1 for s in statuses.values() if s >= 500),
        submit=submit.status_code,
    )
    assert verdict["answers_5xx"] == 0, statuses
    assert submit.status_code in (202, 422), submit.text


@backends()
def test_nul_in_handler_output_is_stored_or_refused_once(rig: Rig, verdict: Verdict) -> None:
    api = rig.start_api()
    rig.start_worker(concurrency=3)
    with api.client() as client:
        jobs = {w: rig.submit(client, "/nul", {"where": w}) for w in ("result", "step", "error")}
        done = {
            w: rig.wait_job(client, j, is_terminal, what="to end", timeout=120)
            for w, j in jobs.items()
        }
    codes = {w: (j.get("error") or {}).get("code") for w, j in done.items()}
    verdict.update(
        jobs=len(jobs),
        runs=sum(rig.runlog.count("start", j) for j in jobs.values()),
        worker_lost=sum(1 for c in codes.values() if c == "worker_lost"),
        result_faithful=int(done["result"].get("result") == {"text": "a\u0000b"}),
        error_code=codes["error"],
    )
    assert verdict["runs"] == len(jobs) and verdict["worker_lost"] == 0, (verdict, done)
    assert done["step"]["status"] == "completed", done["step"]
    assert (done["error"]["status"], codes["error"]) == ("failed", "nul_detail"), done["error"]
    assert done["result"]["status"] == "completed" or codes["result"] not in (None, "worker_lost")


RETRIES = 50
ROUNDS = 3


async def retry_at_once(base: str, path: str) -> list[int]:
    limits = httpx.Limits(max_connections=RETRIES)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        answers = await asyncio.gather(*(client.post(path) for _ in range(RETRIES)))
    return [r.status_code for r in answers]


@backends()
def test_concurrent_retries_of_a_delivery_never_overlap(rig: Rig, verdict: Verdict) -> None:
    # The receiver holds each attempt until the test lets it answer, so "while the attempt
    # is in flight" is a state the test makes, not a race against a timer (a fixed 0.3 s
    # delay could end before 50 retries were answered on a loaded machine). The delivery
    # timeout is far above any hold, so no attempt is cut short and sent again.
    hold = threading.Event()
    hold.set()
    receiver = Receiver(hold=hold).start()
    rig.group.env["LRO_WEBHOOK_RETRY_SCHEDULE"] = "0.5,0.5"
    rig.group.env["LRO_WEBHOOK_TIMEOUT_SECONDS"] = "120"
    try:
        api = rig.start_api()  # it dispatches webhooks, and so does the worker
        rig.start_worker(concurrency=1)
        with api.client() as client:
            job_id = rig.submit(client, "/work", {"callback_url": receiver.url})

            def delivery() -> dict[str, Any]:
                items: list[dict[str, Any]] = client.get(f"{API}/jobs/{job_id}/deliveries").json()[
                    "items"
                ]
                return items[0] if items else {}

            first = rig.wait(
                lambda: (d := delivery()).get("status") == "delivered" and d,
                timeout=60,
                what="the first delivery",
            )
            message = str(first["id"])
            path = f"{API}/jobs/{job_id}/deliveries/{urllib.parse.quote(message)}/retry"
            answers: list[int] = []
            for _ in range(ROUNDS):
                # 50 retries of the ended delivery at once, then 50 more while the
                # attempt they caused is held in flight at the receiver.
                hold.clear()
                answers += asyncio.run(retry_at_once(api.base_url, path))
                rig.wait(
                    lambda: receiver.in_flight(message) > 0,
                    timeout=60,
                    what="a retried attempt in flight",
                    interval=0.01,
                )
                answers += asyncio.run(retry_at_once(api.base_url, path))
                hold.set()
                final = rig.wait(
                    lambda: (
                        (d := delivery()).get("status") != "pending"
                        and receiver.in_flight(message) == 0
                        and d
                    ),
                    timeout=60,
                    what="the retries to end",
                )
    finally:
        receiver.stop()
    posts = sum(1 for r in receiver.requests if r.headers.get("webhook-id") == message)
    history = [int(h["attempt"]) for h in final["history"]]
    verdict.update(
        retries=2 * RETRIES * ROUNDS,
        retry_202=answers.count(202),
        posts=posts,
        extra_posts=posts - 1,
        attempts=final["attempts"],
        history=len(history),
        max_in_flight=receiver.max_in_flight.get(message, 0),
    )
    assert verdict["max_in_flight"] == 1, verdict
    assert history == list(range(1, posts + 1)) and final["attempts"] == posts, verdict


@backends(
    sqlite=na("SQLite has no server to refuse connections"),
)
def test_a_database_refusing_connections_is_a_503(rig: Rig, verdict: Verdict) -> None:
    api = rig.start_api()
    database = urllib.parse.urlsplit(rig.store_url).path.lstrip("/")
    with api.client() as client:
        job_id = rig.submit(client, "/work", {})
        admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                f" WHERE datname = '{database}' AND pid <> pg_backend_pid()"
            )
            answers = [
                client.post(f"{API}/work", json={}),
                client.get(f"{API}/jobs/{job_id}"),
                client.get(f"{API}/jobs"),
                client.get("/readyz"),
            ]
        finally:
            admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        rig.wait(lambda: client.get("/readyz").status_code == 200, timeout=60, what="ready")
        after = client.post(f"{API}/work", json={}).status_code
    verdict.update(
        answers=len(answers),
        answers_503=sum(1 for r in answers if r.status_code == 503),
        with_retry_after=sum(1 for r in answers if "retry-after" in r.headers),
        answers_500=sum(1 for r in answers if r.status_code == 500),
        submit_after=after,
    )
    assert verdict["answers_503"] == verdict["with_retry_after"] == len(answers), verdict
    assert after == 202, verdict


def admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(ADMIN_URL, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())
