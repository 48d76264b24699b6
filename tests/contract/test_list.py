"""list_jobs: one owner's unexpired jobs, newest first, keyset-paginated."""

from __future__ import annotations

import base64

import pytest
from tests.contract.helpers import RETENTION, at, claim_one, submit

from lro.models import Job, ListQuery, Status
from lro.store import Store


async def test_pages_walk_all_jobs_newest_first(store: Store) -> None:
    # Two jobs per timestamp, so the cursor must break created_at ties by id.
    ids = [(await submit(store, at(i // 2), owner="alice")).id for i in range(7)]
    await submit(store, at(100), owner="bob")
    expected = sorted(((i // 2, job_id) for i, job_id in enumerate(ids)), reverse=True)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await store.list_jobs(ListQuery(owner="alice", limit=3, cursor=cursor), at(200))
        seen.extend(j.id for j in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [job_id for _, job_id in expected]
    assert pages == 3


async def test_exact_page_has_no_next_cursor(store: Store) -> None:
    for i in range(2):
        await submit(store, at(i))
    page = await store.list_jobs(ListQuery(limit=2), at(10))
    assert len(page.items) == 2 and page.next_cursor is None


async def test_filters_by_status_and_operation(store: Store) -> None:
    a = await submit(store, at(1), operation="a")
    b = await submit(store, at(2), operation="b")
    running = await claim_one(store, at(3))  # a, the oldest
    c = await submit(store, at(4), operation="a")
    await store.request_cancel(c.id, at(5), RETENTION)

    def ids(jobs: list[Job]) -> list[str]:
        return [j.id for j in jobs]

    q = await store.list_jobs(ListQuery(statuses=[Status.QUEUED]), at(6))
    assert ids(q.items) == [b.id]
    q = await store.list_jobs(ListQuery(statuses=[Status.PROCESSING, Status.CANCELLED]), at(6))
    assert ids(q.items) == [c.id, running.id]
    q = await store.list_jobs(ListQuery(operation="a"), at(6))
    assert ids(q.items) == [c.id, a.id]
    q = await store.list_jobs(ListQuery(operation="a", statuses=[Status.QUEUED]), at(6))
    assert q.items == []


async def test_expired_jobs_are_not_listed(store: Store) -> None:
    job = await submit(store, at(0))
    other = await submit(store, at(1))
    await store.request_cancel(job.id, at(2), 10)
    listed = await store.list_jobs(ListQuery(), at(11))
    assert [j.id for j in listed.items] == [other.id, job.id]
    listed = await store.list_jobs(ListQuery(), at(12))
    assert [j.id for j in listed.items] == [other.id]


async def test_jobs_are_scoped_to_their_owner(store: Store) -> None:
    mine = await submit(store, owner="alice")
    await submit(store, owner="bob")
    page = await store.list_jobs(ListQuery(owner="alice"), at(1))
    assert [j.id for j in page.items] == [mine.id]
    assert (await store.list_jobs(ListQuery(owner="carol"), at(1))).items == []


NUL_CURSOR = base64.urlsafe_b64encode(b"1700000000000000:ab\x00c").decode().rstrip("=")
"""Well-formed, but its job id holds U+0000, which PostgreSQL cannot even compare."""


@pytest.mark.parametrize("cursor", ["", "!!!", "bm90LWEtY3Vyc29y", "zzzz", "Zm9vOg", NUL_CURSOR])
async def test_malformed_cursor_is_a_value_error(store: Store, cursor: str) -> None:
    with pytest.raises(ValueError):
        await store.list_jobs(ListQuery(cursor=cursor), at(1))
