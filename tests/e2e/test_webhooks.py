"""Webhooks end to end: a real `lro serve` (demo app, embedded worker) delivering to real
receivers on loopback. Signatures are checked with the Standard Webhooks reference
library; retries, a crash of the server between attempts and a slow receiver are real."""

from __future__ import annotations

import signal
import threading
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from tests.support.procs import (
    API,
    ProcessGroup,
    free_port,
    is_terminal,
    start_server,
    wait_for,
    wait_job,
)
from tests.support.receiver import Receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FAST_RETRIES = {"LRO_WEBHOOK_SECRET": SECRET, "LRO_WEBHOOK_RETRY_SCHEDULE": "0.3,0.3,0.3"}


def submit_report(client: httpx.Client, callback_url: str, **params: Any) -> str:
    body = {"rows": 3, "delay_seconds": 0, **params, "callback_url": callback_url}
    r = client.post(f"{API}/reports", json=body)
    assert r.status_code == 202, r.text
    job_id: str = r.json()["job_id"]
    return job_id


def deliveries(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    r = client.get(f"{API}/jobs/{job_id}/deliveries")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def wait_delivery(
    client: httpx.Client, job_id: str, status: str, procs: ProcessGroup
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        items = deliveries(client, job_id)
        return items[0] if items and items[0]["status"] == status else None

    found: dict[str, Any] = wait_for(
        check,
        timeout=30,
        what=f"delivery of {job_id} to be {status}",
        diagnostics=lambda: f"{deliveries(client, job_id)}\n{procs.logs()}",
    )
    return found


@pytest.mark.smoke
def test_a_completed_job_is_delivered_signed_per_standard_webhooks(procs: ProcessGroup) -> None:
    receiver = Receiver().start()
    procs.env.update(FAST_RETRIES)
    base = start_server(procs, worker=True)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            job_id = submit_report(client, receiver.url)
            [request] = receiver.wait_requests(1)
            payload = Webhook(SECRET).verify(request.body, request.headers)
            assert payload["type"] == "job.completed"
            assert payload["data"]["job_id"] == job_id
            assert payload["data"]["status"] == "completed"
            assert payload["data"]["result_url"] == f"{API}/jobs/{job_id}/result"
            assert request.headers["content-type"] == "application/json"
            delivered = wait_delivery(client, job_id, "delivered", procs)
            assert delivered["id"] == request.headers["webhook-id"]
            assert [(h["attempt"], h["status_code"]) for h in delivered["history"]] == [(1, 200)]
    finally:
        receiver.stop()


def test_a_receiver_that_fails_twice_gets_it_on_the_third_attempt(procs: ProcessGroup) -> None:
    receiver = Receiver(answers=[500, 503, 200]).start()
    procs.env.update(FAST_RETRIES)
    base = start_server(procs, worker=True)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            job_id = submit_report(client, receiver.url, fail_at_pct=50)
            requests = receiver.wait_requests(3)
            assert len({r.headers["webhook-id"] for r in requests}) == 1  # same id every time
            assert all(Webhook(SECRET).verify(r.body, r.headers) for r in requests)
            assert requests[0].json()["type"] == "job.failed"
            delivered = wait_delivery(client, job_id, "delivered", procs)
            assert [h["status_code"] for h in delivered["history"]] == [500, 503, 200]
            assert "500" in delivered["history"][0]["error"]
            assert delivered["attempts"] == 3
    finally:
        receiver.stop()


def test_a_delivery_survives_a_server_crash_while_its_receiver_is_down(
    procs: ProcessGroup,
) -> None:
    port = free_port()  # nothing listens here yet: connections are refused
    procs.env.update({"LRO_WEBHOOK_SECRET": SECRET, "LRO_WEBHOOK_RETRY_SCHEDULE": "0.3,1,1,1"})
    base = start_server(procs, worker=True)
    receiver = Receiver(port=port)
    with httpx.Client(base_url=base, timeout=10) as client:
        job_id = submit_report(client, receiver.url)
        wait_job(client, job_id, is_terminal, what="to finish", group=procs)
        # A finished attempt is in the history; `attempts` already counts one in flight.
        first = wait_for(
            lambda: next(iter(d for d in deliveries(client, job_id) if d["history"]), None),
            timeout=30,
            what="a failed first attempt",
        )
        assert first["status"] == "pending" and first["history"][0]["status_code"] is None
    procs.procs[0].signal(signal.SIGKILL)
    procs.procs[0].wait_exit(10)

    receiver.start()
    try:
        base = start_server(procs, worker=True, name="api-restarted")
        [request] = receiver.wait_requests(1)
        assert request.headers["webhook-id"] == first["id"]
        assert Webhook(SECRET).verify(request.body, request.headers)["data"]["job_id"] == job_id
        with httpx.Client(base_url=base, timeout=10) as client:
            wait_delivery(client, job_id, "delivered", procs)
    finally:
        receiver.stop()


def test_a_receiver_that_never_answers_cannot_take_every_slot(procs: ProcessGroup) -> None:
    """Four slots, at most two per target: five deliveries to a receiver that holds every
    request open take two, and the fast receiver is still served."""
    release = threading.Event()
    slow = Receiver(hold=release).start()
    fast = Receiver().start()
    procs.env.update(
        {
            "LRO_WEBHOOK_SECRET": SECRET,
            "LRO_WEBHOOK_TIMEOUT_SECONDS": "60",
            "LRO_WEBHOOK_CONCURRENCY": "4",
            "LRO_WEBHOOK_CONCURRENCY_PER_HOST": "2",
        }
    )
    base = start_server(procs, worker=True)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(5):
                submit_report(client, slow.url)
            slow.wait_requests(2)  # both of its slots are held open now
            job_id = submit_report(client, fast.url)
            [request] = fast.wait_requests(1)
            assert request.json()["data"]["job_id"] == job_id
            assert len(slow.requests) == 2 and not release.is_set()
            release.set()
            slow.wait_requests(5)  # the handed-back ones follow once slots free up
    finally:
        release.set()
        slow.stop()
        fast.stop()


def test_a_redirect_is_not_followed_and_a_manual_retry_sends_again(procs: ProcessGroup) -> None:
    target = Receiver().start()
    bouncer = Receiver(answers=[302, 200], location=target.url).start()
    procs.env.update({"LRO_WEBHOOK_SECRET": SECRET, "LRO_WEBHOOK_RETRY_SCHEDULE": ""})
    base = start_server(procs, worker=True)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            job_id = submit_report(client, bouncer.url)
            failed = wait_delivery(client, job_id, "failed", procs)
            assert failed["history"][0]["status_code"] == 302
            assert "redirect" in failed["history"][0]["error"]
            assert target.requests == []  # never followed
            r = client.post(f"{API}/jobs/{job_id}/deliveries/{failed['id']}/retry")
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "pending"
            bouncer.wait_requests(2)
            delivered = wait_delivery(client, job_id, "delivered", procs)
            assert [h["status_code"] for h in delivered["history"]] == [302, 200]
            missing = client.post(f"{API}/jobs/{job_id}/deliveries/msg_nope/retry")
            assert missing.status_code == 404
    finally:
        bouncer.stop()
        target.stop()


def test_private_callback_targets_are_refused_at_submit_by_default(procs: ProcessGroup) -> None:
    procs.env["LRO_WEBHOOK_ALLOW_PRIVATE"] = "0"
    base = start_server(procs, worker=False)
    with httpx.Client(base_url=base, timeout=10) as client:
        for url in ("http://127.0.0.1:9/hook", "http://[::1]/hook", "http://169.254.169.254/"):
            r = client.post(f"{API}/reports", json={"rows": 1, "callback_url": url})
            assert r.status_code == 422, (url, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["errors"][0]["pointer"] == "/callback_url"
        listed = client.get(f"{API}/jobs").json()["items"]
        assert listed == []  # nothing was stored


def test_progress_webhooks_when_asked_for(procs: ProcessGroup) -> None:
    receiver = Receiver().start()
    procs.env.update(FAST_RETRIES)
    base = start_server(procs, worker=True)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            job_id = submit_report(client, receiver.url, delay_seconds=1, callback_progress=True)
            wait_job(client, job_id, is_terminal, what="to finish", group=procs)

            def completed_seen() -> bool:
                types = [r.json()["type"] for r in receiver.requests]
                return "job.completed" in types

            wait_for(completed_seen, timeout=30, what="the job.completed webhook")
            payloads = [Webhook(SECRET).verify(r.body, r.headers) for r in receiver.requests]
            types = [p["type"] for p in payloads]
            assert types.count("job.completed") == 1
            progress = [p for p in payloads if p["type"] == "job.progress"]
            assert progress, types  # coalesced, so a few rather than one per step
            assert all(p["data"]["job_id"] == job_id for p in payloads)
            # Without a callback_url there is nothing to send progress to.
            r = client.post(f"{API}/reports", json={"rows": 1, "callback_progress": True})
            assert r.status_code == 422
            assert r.json()["errors"][0]["pointer"] == "/callback_progress"
    finally:
        receiver.stop()
