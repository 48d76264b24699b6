"""The live job list filters changed jobs in memory (`lro.listfeed.ListFilter`); what it
lets through must be exactly what `Store.list_jobs` lists with the same filters, on every
backend, or a live list would show rows its own page read never would."""

from __future__ import annotations

from tests.contract.helpers import RETENTION, at, claim, lease_of, submit

from lro.listfeed import ListFilter
from lro.models import Completion, ErrorDetail, Failure, ListQuery, ProgressUpdate, Status
from lro.store import Store
from lro.store.capabilities import has_flows

ERROR = ErrorDetail(
    type="https://lro.dev/problems/job-error",
    title="The Printer Is On Fire",
    detail="x",
    code="fire",
    retryable=False,
    attempts=1,
)


async def _jobs(store: Store, flows: bool) -> list[str]:
    """Jobs of two owners and two operations, in every status, with steps and an error
    (and tags, on a backend with flows), created one second apart."""
    ids: list[str] = []
    for i in range(8):
        owner = "alice" if i % 3 else "bob"
        extra = {"tags": ("red", "x") if i % 2 else ("blue",)} if flows else {}
        job = await submit(store, at(i), owner=owner, operation=f"op{i % 2}", **extra)
        ids.append(job.id)
    running = await claim(store, 4, at(10))  # the four oldest
    steps = [
        ProgressUpdate(lease_of(running[0]), 30, "Loading Rows"),
        ProgressUpdate(lease_of(running[1]), 60, "writing"),
    ]
    await store.set_progress(steps, at(11))
    # Completed with a retention of 1 s: expired by the time the lists are read.
    await store.complete_jobs([Completion(lease_of(running[3]), result=1)], at(12), 1.0)
    await store.fail_jobs([Failure(lease_of(running[2]), ERROR)], at(12), RETENTION)
    await store.request_cancel(ids[7], at(13), RETENTION)
    return ids


def _filters(flows: bool, ids: list[str]) -> list[ListFilter]:
    plain = [
        ListFilter(owner=None),
        ListFilter(owner="alice"),
        ListFilter(owner="bob", statuses=frozenset({Status.QUEUED})),
        ListFilter(owner=None, statuses=frozenset({Status.PROCESSING, Status.FAILED})),
        ListFilter(owner="alice", operation="op1"),
        ListFilter(owner=None, operation="nope"),
    ]
    if not flows:
        return plain
    return [
        *plain,
        ListFilter(owner=None, tags=("red",)),
        ListFilter(owner="alice", tags=("red", "x"), statuses=frozenset({Status.PROCESSING})),
        ListFilter(owner=None, tags=("red", "blue")),
        ListFilter(owner=None, created_after=at(2), created_before=at(6)),
        ListFilter(owner=None, text="rows"),  # the step, any case
        ListFilter(owner=None, text="on fire"),  # the error title
        ListFilter(owner=None, text=ids[5][:8]),  # an id prefix
    ]


def _query(flt: ListFilter) -> ListQuery:
    return ListQuery(
        owner=flt.owner,
        statuses=sorted(flt.statuses),
        operation=flt.operation,
        limit=200,
        tags=flt.tags,
        created_after=flt.created_after,
        created_before=flt.created_before,
        text=flt.text,
    )


async def test_the_live_filter_lets_through_what_list_jobs_lists(store: Store) -> None:
    now = at(20)
    flows = has_flows(store)
    ids = await _jobs(store, flows)
    jobs = [await store.get_job(i) for i in ids]
    assert all(job is not None for job in jobs)
    assert {job.status for job in jobs if job is not None} == set(Status)
    filters = _filters(flows, ids)
    empty = 0
    for flt in filters:
        listed = {j.id for j in (await store.list_jobs(_query(flt), now)).items}
        matched = {j.id for j in jobs if j is not None and flt.matches(j, now)}
        assert matched == listed, flt
        empty += not listed
    # Only `operation="nope"` and, with flows, the tags no job carries both of.
    assert empty == (2 if flows else 1)
