"""Many manual retries of one webhook at once, through a real server on both backends
(issue 13: 50 concurrent retries of a delivered webhook sent 13 extra POSTs, several in
flight at once with the same webhook-id, and kept 4 of 14 attempts in the history; on
PostgreSQL a retry of a delivery ended by 410 made 2 attempts). Now sends of a delivery
never overlap, and every send the receiver got is an attempt in the history."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from tests.api.helpers import PREFIX, claim, complete
from tests.stream.conftest import Served
from tests.webhooks.receiver import Received, Receiver, head

RETRIES = 50


class Slow:
    """Answers each POST after a pause (so sends would overlap if they could), counting
    how many are in flight at once per webhook-id."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.in_flight: Counter[str] = Counter()
        self.most = 0

    async def __call__(self, request: Received, writer: asyncio.StreamWriter) -> None:
        webhook_id = request.headers["webhook-id"]
        self.in_flight[webhook_id] += 1
        self.most = max(self.most, self.in_flight[webhook_id])
        try:
            await asyncio.sleep(0.2)
            writer.write(head(self.status, {"content-length": "0"}))
            await writer.drain()
        finally:
            self.in_flight[webhook_id] -= 1


async def settled(client: httpx.AsyncClient, job_id: str) -> dict[str, object]:
    async with asyncio.timeout(30):
        while True:
            [delivery] = (await client.get(f"{PREFIX}/jobs/{job_id}/deliveries")).json()["items"]
            if delivery["status"] != "pending":
                return dict(delivery)
            await asyncio.sleep(0.05)  # polling the API, as a client does


@pytest.mark.parametrize("status", [200, 410])
async def test_concurrent_retries_never_overlap_and_every_send_is_recorded(
    served: Served, status: int
) -> None:
    slow = Slow(status)
    async with Receiver(slow) as receiver, httpx.AsyncClient(base_url=served.url) as client:
        r = await client.post(
            f"{PREFIX}/echo", json={"text": "hook", "callback_url": receiver.url()}
        )
        job_id = r.json()["job_id"]
        await complete(served.lro, await claim(served.lro), {"text": "hook"})
        first = await settled(client, job_id)
        assert first["attempts"] == 1

        retry = f"{PREFIX}/jobs/{job_id}/deliveries/{first['id']}/retry"
        answers = await asyncio.gather(*(client.post(retry) for _ in range(RETRIES)))
        assert {a.status_code for a in answers} == {202}
        done = await settled(client, job_id)

    history = [a["attempt"] for a in done["history"]]  # type: ignore[union-attr]
    assert history == list(range(1, len(history) + 1)), history
    assert len(receiver.requests) == len(history) == done["attempts"]
    assert slow.most == 1
    assert len({req.headers["webhook-id"] for req in receiver.requests}) == 1
