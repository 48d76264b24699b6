"""Bulk actions act on the caller's own jobs only; an admin's on everyone's
(HTTP-CONTRACT §14), through a real server with API keys and a real worker."""

from __future__ import annotations

from tests.api.helpers import PREFIX
from tests.security.conftest import Clients
from tests.stream.conftest import Served
from tests.worker.helpers import running_worker, wait_job

from lro import Status


async def test_bulk_cancel_is_scoped_to_the_caller(secured: Served, as_: Clients) -> None:
    lro = secured.lro
    owned = {
        who: [(await lro.submit("echo", {"text": who}, delay=3600, owner=who)).id for _ in "ab"]
        for who in ("alice", "bob", "carol")
    }
    r = await as_("alice").post(f"{PREFIX}/jobs/bulk/cancel", json={"status": "queued"})
    assert r.status_code == 202, r.text
    alice_bulk = r.json()["job_id"]
    # Bob cannot see alice's bulk job.
    assert (await as_("bob").get(f"{PREFIX}/jobs/{alice_bulk}")).status_code == 404
    async with running_worker(lro, 1):
        done = await wait_job(lro, alice_bulk, timeout=60)
        assert done.result == {"matched": 2, "changed": 2}, done
        for who, ids in owned.items():
            for job_id in ids:
                job = await lro.store.get_job(job_id)
                assert job is not None
                assert job.status is (Status.CANCELLED if who == "alice" else Status.QUEUED)
        r = await as_("admin").post(f"{PREFIX}/jobs/bulk/cancel", json={"status": "queued"})
        assert r.status_code == 202, r.text
        done = await wait_job(lro, r.json()["job_id"], timeout=60)
        assert done.result == {"matched": 4, "changed": 4}, done
    for ids in owned.values():
        for job_id in ids:
            job = await lro.store.get_job(job_id)
            assert job is not None and job.status is Status.CANCELLED
