"""LISTEN/NOTIFY: a change committed through one store reaches the listeners of another
(another process, another machine) within milliseconds, cancels included."""

from __future__ import annotations

import asyncio

import pytest
from tests.postgres.conftest import StoreMaker
from tests.postgres.helpers import T0, at, new_jobs
from tests.support.listen import WAIT, Recorder

from lro.models import Status
from lro.store import ClaimParams

pytestmark = pytest.mark.postgres


async def test_changes_reach_another_store(make_store: StoreMaker) -> None:
    api, worker = await make_store(), await make_store()
    heard = Recorder()
    worker.add_listener(heard)
    await asyncio.wait_for(worker.listening.wait(), WAIT)

    (inserted,) = await api.insert_jobs(new_jobs(1), T0)
    job = inserted.job
    await heard.wait_until(lambda cs: any(c.job_id == job.id and c.version == 1 for c in cs))
    assert heard.changes[0].status is Status.QUEUED

    # The worker (this store) claims; the API (the other) requests cancel; the worker
    # hears a change flagged cancel_requested without querying.
    (claimed,) = await worker.claim_jobs(ClaimParams("w", 1, 30.0, T0))
    await api.request_cancel(job.id, at(1), 3600.0)
    await heard.wait_until(lambda cs: any(c.cancel_requested for c in cs))
    flagged = [c for c in heard.changes if c.cancel_requested]
    assert [(c.job_id, c.version, c.status) for c in flagged] == [(job.id, 3, Status.PROCESSING)]
    # The claim was dispatched locally once, not a second time via NOTIFY.
    assert [c.version for c in heard.changes if c.job_id == claimed.id].count(2) == 1


async def test_big_batches_are_chunked_under_the_payload_limit(make_store: StoreMaker) -> None:
    api, other = await make_store(), await make_store()
    heard = Recorder()
    other.add_listener(heard)
    await asyncio.wait_for(other.listening.wait(), WAIT)
    jobs = new_jobs(1000)
    await api.insert_jobs(jobs, T0)
    wanted = {j.id for j in jobs}
    await heard.wait_until(lambda cs: wanted <= {c.job_id for c in cs})
    assert len(heard.changes) == 1000


async def test_listener_connection_only_while_listening(make_store: StoreMaker) -> None:
    store = await make_store()
    assert not store.listening.is_set()
    remove = store.add_listener(lambda c: None)
    await asyncio.wait_for(store.listening.wait(), WAIT)
    remove()
    assert not store.listening.is_set()
