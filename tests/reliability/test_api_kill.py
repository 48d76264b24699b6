"""SIGKILL an API process in the middle of a stream of submits, each with its own
Idempotency-Key: a client that got its 202 must find its job; a client that got no
answer does not know whether its job exists, retries with the same key on the other API
process, and must end up with exactly one job.

Verdict: one job per key, however the kill fell (before the insert, between the commit
and the answer, or before the request was read): no key has two jobs and none has zero;
every answered job is found through the surviving API; retries of requests that had been
committed are replays (`Idempotent-Replayed: true`) of the same job; every job completes.
"""

from __future__ import annotations

import asyncio
import json

import httpx
from tests.reliability.harness import Api, Rig
from tests.reliability.scenarios import backends
from tests.reliability.verdict import Verdict
from tests.support.procs import API

SUBMITS = 400
KILL_AFTER = 100
IN_FLIGHT = 32


async def submit_through_a_kill(
    rig: Rig, victim: Api, survivor: Api, verdict: Verdict
) -> dict[str, str]:
    """Submit every key to `victim`, SIGKILL it after KILL_AFTER answers, and retry each
    unanswered submit on `survivor`; returns key -> job id."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    answered: dict[str, str] = {}
    retried: dict[str, str] = {}
    replayed = 0
    killed = asyncio.Event()
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    async with (
        httpx.AsyncClient(base_url=victim.base_url, timeout=30, limits=limits) as first,
        httpx.AsyncClient(base_url=survivor.base_url, timeout=30, limits=limits) as second,
    ):

        async def one(i: int) -> None:
            nonlocal replayed
            key = f"key-{i}"
            body = {"tag": key, "ms": 0}
            headers = {"Idempotency-Key": key}
            async with gate:
                try:
                    resp = await first.post(f"{API}/work", json=body, headers=headers)
                except httpx.TransportError:
                    resp = None
                if resp is not None:
                    assert resp.status_code == 202, resp.text
                    answered[key] = resp.json()["job_id"]
                    if len(answered) == KILL_AFTER and not killed.is_set():
                        killed.set()
                        await asyncio.to_thread(rig.kill, victim.proc)
                    return
            again = await second.post(f"{API}/work", json=body, headers=headers)
            assert again.status_code == 202, again.text
            retried[key] = again.json()["job_id"]
            replayed += again.headers.get("Idempotent-Replayed") == "true"

        await asyncio.gather(*(one(i) for i in range(SUBMITS)))
    verdict.update(answered=len(answered), no_answer=len(retried), replayed=replayed)
    return {**answered, **retried}


@backends()
def test_api_killed_mid_submit(rig: Rig, verdict: Verdict) -> None:
    victim = rig.start_api(name="api-1")
    survivor = rig.start_api(name="api-2")
    rig.start_worker(concurrency=8)
    job_of = asyncio.run(submit_through_a_kill(rig, victim, survivor, verdict))
    rig.wait_drained(timeout=120)

    jobs_by_key: dict[str, list[str]] = {}
    for job_id, params in rig.db.rows("SELECT id, params FROM {p}jobs"):
        jobs_by_key.setdefault(json.loads(params)["tag"], []).append(job_id)
    with survivor.client() as client:
        found = sum(
            1 for job_id in job_of.values() if client.get(f"{API}/jobs/{job_id}").status_code == 200
        )
    verdict.update(
        keys=SUBMITS,
        jobs=sum(len(v) for v in jobs_by_key.values()),
        duplicates=sum(len(v) - 1 for v in jobs_by_key.values()),
        keys_without_job=SUBMITS - len(jobs_by_key),
        found=found,
        completed=rig.db.status_counts()["completed"],
    )
    assert verdict["no_answer"] > 0, f"the kill cut no submit short: {verdict}"
    assert verdict["duplicates"] == 0 and verdict["keys_without_job"] == 0, verdict
    assert all(jobs_by_key[k] == [j] for k, j in job_of.items()), verdict
    assert verdict["found"] == SUBMITS == verdict["completed"], verdict
