"""SIGKILL the process that is sending webhooks while its deliveries are in flight: a real
loopback receiver takes each request and holds it unanswered until the sender is dead.

Verdict: every delivery still arrives, after the restart, with the same `webhook-id` as
the attempt that died (so a receiver can de-duplicate), correctly signed; every delivery
ends `delivered`. The duplicates are counted: at least the attempts the kill cut off.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

import pytest
from standardwebhooks import Webhook
from tests.reliability.harness import Rig
from tests.reliability.scenarios import backends, reliability
from tests.reliability.verdict import Verdict
from tests.support.procs import API
from tests.support.receiver import Receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
JOBS = 12
PER_HOST = 8
"""Deliveries in flight to one receiver (LRO_WEBHOOK_CONCURRENCY_PER_HOST's default)."""


@reliability
@pytest.mark.timeout(240)
@backends()
def test_webhook_sender_killed_mid_send(rig: Rig, verdict: Verdict) -> None:
    hold = threading.Event()
    receiver = Receiver(hold=hold).start()
    rig.group.env.update(
        LRO_WEBHOOK_SECRET=SECRET,
        LRO_WEBHOOK_TIMEOUT_SECONDS="3",  # a claim's lease: this + 30 s
        LRO_WEBHOOK_RETRY_SCHEDULE="0.5,0.5,0.5,0.5,0.5",
    )
    try:
        sender = rig.start_api(name="serve-1", worker=True)
        with sender.client() as client:
            jobs = [
                rig.submit(client, "/work", {"callback_url": receiver.url}) for _ in range(JOBS)
            ]
            receiver.wait_requests(PER_HOST, timeout=60)
        rig.kill(sender.proc)
        cut_off = len(receiver.requests)
        hold.set()
        restarted = rig.start_api(name="serve-2", worker=True)

        def all_delivered() -> list[list[dict[str, Any]]] | None:
            with restarted.client() as client:
                items = [client.get(f"{API}/jobs/{j}/deliveries").json()["items"] for j in jobs]
            return items if all(i and i[0]["status"] == "delivered" for i in items) else None

        deliveries = rig.wait(all_delivered, timeout=150, what="every delivery delivered")
    finally:
        receiver.stop()

    ids_by_job: dict[str, set[str]] = collections.defaultdict(set)
    for req in receiver.requests:
        payload = Webhook(SECRET).verify(req.body, req.headers)
        ids_by_job[payload["data"]["job_id"]].add(req.headers["webhook-id"])
    stored_ids = {str(d[0]["job_id"]): str(d[0]["id"]) for d in deliveries}
    verdict.update(
        jobs=JOBS,
        in_flight_at_kill=cut_off,
        requests=len(receiver.requests),
        duplicates=len(receiver.requests) - JOBS,
        jobs_reached=len(ids_by_job),
        ids_per_job_max=max(len(v) for v in ids_by_job.values()),
        delivered=len(deliveries),
    )
    assert verdict["in_flight_at_kill"] >= PER_HOST, verdict
    assert verdict["jobs_reached"] == JOBS and verdict["ids_per_job_max"] == 1, verdict
    assert {j: {i} for j, i in stored_ids.items()} == dict(ids_by_job), verdict
    assert verdict["duplicates"] >= verdict["in_flight_at_kill"], verdict
