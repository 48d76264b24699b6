"""GET /metrics: Prometheus text with this process's work and the store's figures, open
without keys and admin-only with them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.api.helpers import PREFIX, make_lro

from lro import LRO
from lro.metrics import Metrics
from lro.models import utcnow
from lro.serving import create_app
from lro.testing import run

KEYS = "alice:alice-key-0123456789,admin:admin-key-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by (name, sorted labels): what a scraper would store."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, tuple(sorted(labels.items())))]


async def scrape(lro: LRO, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(lro))
    async with httpx.AsyncClient(transport=transport, base_url="http://lro.test") as client:
        return await client.get("/metrics", headers=headers)


async def test_submits_runs_and_the_queue_show_up(tmp_path: Path) -> None:
    async with run(make_lro(tmp_path), path=tmp_path, concurrency=3) as t:
        client = t.client
        queued = await client.post(f"{PREFIX}/echo", json={"text": "a"})
        assert queued.status_code == 202
        answer = await client.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = answer.text
        assert value(text, "lro_jobs_submitted_total", operation="echo") == 1
        assert value(text, "lro_jobs", operation="echo", status="queued") == 1
        assert value(text, "lro_queue_oldest_age_seconds", operation="echo") >= 0
        assert value(text, "lro_queue_oldest_age_seconds", operation="ship") == 0
        assert value(text, "lro_webhook_deliveries_pending") == 0
        assert value(text, "lro_store_up") == 1

        async with t.background_worker():
            await t.wait_for_job(queued.json()["job_id"])
            # The store's figures are cached for a second; this process's are live.
            text = (await client.get("/metrics")).text
            assert value(text, "lro_worker_slots", state="total") == 3
        # Read again once the worker has stopped: the store's listeners (which woke
        # wait_for_job) run inside the completion's write, before the worker counts it.
        text = (await client.get("/metrics")).text
        assert value(text, "lro_job_attempts_total", operation="echo", outcome="completed") == 1
        assert value(text, "lro_job_duration_seconds_count", operation="echo") == 1
        assert value(text, "lro_job_queue_wait_seconds_count", operation="echo") == 1
        assert ("lro_worker_slots", (("state", "total"),)) not in samples(
            (await client.get("/metrics")).text
        )  # a stopped worker no longer reports slots


@pytest.mark.parametrize(
    ("key", "status"),
    [
        (None, 401),
        ("wrong-key-0123456789", 401),
        ("alice-key-0123456789", 403),
        ("admin-key-0123456789", 200),
    ],
)
async def test_with_keys_only_an_admin_may_scrape(
    tmp_path: Path, key: str | None, status: int
) -> None:
    lro = make_lro(tmp_path, api_keys=KEYS)
    async with lro.running():
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        answer = await scrape(lro, **headers)
    assert answer.status_code == status
    if status != 200:
        assert answer.headers["content-type"] == "application/problem+json"
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_a_store_that_fails_is_reported_not_raised(tmp_path: Path) -> None:
    lro = make_lro(tmp_path)
    store = lro.store
    await store.open()
    await store.close()  # every read now fails: the store is gone
    metrics = Metrics(process_collectors=False)
    with pytest.raises(Exception):  # noqa: B017 - whatever the store raises
        await metrics.refresh_store(store, utcnow(), ["echo"])
    assert value(metrics.render().decode(), "lro_store_up") == 0


async def test_two_apps_in_one_process_keep_their_own_figures(tmp_path: Path) -> None:
    first, second = make_lro(tmp_path / "a"), make_lro(tmp_path / "b")
    async with first.running(), second.running():
        await first.submit("ping")
        text = (await scrape(second)).text
    assert ("lro_jobs_submitted_total", (("operation", "ping"),)) not in samples(text)
