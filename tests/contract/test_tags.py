"""Tags, metadata and the search filters of list_jobs (HTTP-CONTRACT §15), per backend."""

from __future__ import annotations

import pytest
from tests.contract.helpers import RETENTION, at, claim_one, lease_of, submit

from lro.models import ErrorDetail, Failure, ListQuery, ProgressUpdate
from lro.store import Store, SweepParams

pytestmark = pytest.mark.usefixtures("needs_flows")


async def _ids(store: Store, query: ListQuery, now_s: float = 100) -> list[str]:
    return [j.id for j in (await store.list_jobs(query, at(now_s))).items]


async def test_tags_and_metadata_are_stored_and_read_back(store: Store) -> None:
    job = await submit(store, tags=("order:42", "eu"), metadata={"who": "ann", "n": [1, 2]})
    assert job.tags == ("order:42", "eu") and job.metadata == {"who": "ann", "n": [1, 2]}
    got = await store.get_job(job.id)
    assert got is not None
    assert got.tags == ("order:42", "eu") and got.metadata == {"who": "ann", "n": [1, 2]}
    claimed = await claim_one(store, at(1))
    assert claimed.tags == ("order:42", "eu") and claimed.metadata == {"who": "ann", "n": [1, 2]}
    plain = await submit(store)
    assert plain.tags == () and plain.metadata is None
    stored = await store.get_job(plain.id)
    assert stored is not None and stored.tags == () and stored.metadata is None


async def test_tag_filter_keeps_jobs_with_every_tag_newest_first(store: Store) -> None:
    a = await submit(store, at(1), tags=("x", "y"))
    b = await submit(store, at(2), tags=("y",))
    c = await submit(store, at(3), tags=("y", "x", "z"))
    await submit(store, at(4))
    assert await _ids(store, ListQuery(tags=["x"])) == [c.id, a.id]
    assert await _ids(store, ListQuery(tags=["y"])) == [c.id, b.id, a.id]
    assert await _ids(store, ListQuery(tags=["y", "x"])) == [c.id, a.id]
    assert await _ids(store, ListQuery(tags=["x", "z"])) == [c.id]
    assert await _ids(store, ListQuery(tags=["x", "nope"])) == []
    assert await _ids(store, ListQuery(tags=["X"])) == []  # tags are exact


async def test_tag_filter_is_scoped_to_the_owner(store: Store) -> None:
    mine = await submit(store, at(1), owner="alice", tags=("t",))
    theirs = await submit(store, at(2), owner="bob", tags=("t",))
    assert await _ids(store, ListQuery(owner="alice", tags=["t"])) == [mine.id]
    assert await _ids(store, ListQuery(owner="bob", tags=["t"])) == [theirs.id]
    assert await _ids(store, ListQuery(owner=None, tags=["t"])) == [theirs.id, mine.id]


async def test_tag_pages_walk_every_match_once(store: Store) -> None:
    # Two jobs per timestamp: the cursor must break created_at ties by id.
    ids = [(await submit(store, at(i // 2), tags=("p",))).id for i in range(7)]
    for i in range(3):
        await submit(store, at(i), tags=("other",))
    expected = [
        job_id for _, job_id in sorted(((i // 2, j) for i, j in enumerate(ids)), reverse=True)
    ]
    for owner in ("", None):
        seen: list[str] = []
        cursor = None
        while True:
            page = await store.list_jobs(
                ListQuery(owner=owner, tags=["p"], limit=3, cursor=cursor), at(100)
            )
            seen.extend(j.id for j in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == expected


async def test_created_after_and_before_bound_the_list(store: Store) -> None:
    jobs = [await submit(store, at(i), tags=("t",)) for i in range(5)]
    for tags in ([], ["t"]):
        q = ListQuery(tags=tags, created_after=at(1), created_before=at(4))
        assert await _ids(store, q) == [jobs[3].id, jobs[2].id]
        assert await _ids(store, ListQuery(tags=tags, created_before=at(1))) == [jobs[0].id]
        assert await _ids(store, ListQuery(tags=tags, created_after=at(3))) == [jobs[4].id]
        # A cursor beyond created_before still only shows jobs before it.
        page = await store.list_jobs(ListQuery(tags=tags, limit=1, created_before=at(3)), at(100))
        assert [j.id for j in page.items] == [jobs[2].id]
        rest = ListQuery(tags=tags, cursor=page.next_cursor, created_before=at(3))
        assert await _ids(store, rest) == [jobs[1].id, jobs[0].id]


async def test_text_matches_id_prefix_step_or_error_title(store: Store) -> None:
    by_id = await submit(store, at(1))
    stepped = await submit(store, at(2), operation="s")
    failed = await submit(store, at(3), operation="f")
    running = await claim_one(store, at(4), operations=["s"])
    await store.set_progress([ProgressUpdate(lease_of(running), 10, "Loading Rows")], at(5))
    doomed = await claim_one(store, at(6), operations=["f"])
    error = ErrorDetail("about:blank", "Quota Exceeded", "d", "quota", False, 1)
    await store.fail_jobs([Failure(lease_of(doomed), error)], at(7), RETENTION)
    assert await _ids(store, ListQuery(text=by_id.id[:8])) == [by_id.id]
    assert await _ids(store, ListQuery(text=by_id.id[:8].upper())) == [by_id.id]
    assert await _ids(store, ListQuery(text="ing ro")) == [stepped.id]
    assert await _ids(store, ListQuery(text="QUOTA")) == [failed.id]
    assert await _ids(store, ListQuery(text="%")) == []  # no wildcards: plain text
    assert await _ids(store, ListQuery(text="quota", tags=["t"])) == []


async def test_deleted_and_swept_jobs_leave_the_tag_list(store: Store) -> None:
    done = await submit(store, at(1), tags=("gone",))
    swept = await submit(store, at(2), tags=("gone",))
    kept = await submit(store, at(3), tags=("gone",))
    for job in (done, swept):
        await store.request_cancel(job.id, at(4), 10.0)  # expires at 14
    deleted = await store.delete_job(done.id)
    assert deleted is not None and deleted.deleted
    assert await _ids(store, ListQuery(tags=["gone"]), now_s=5) == [kept.id, swept.id]
    await store.sweep(SweepParams(at(20), 100, 3600.0))
    assert await _ids(store, ListQuery(tags=["gone"]), now_s=20) == [kept.id]
    # A new job may reuse the tag; the old index rows are gone with their jobs.
    again = await submit(store, at(30), tags=("gone",))
    assert await _ids(store, ListQuery(tags=["gone"]), now_s=30) == [again.id, kept.id]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_both_sql_backends_have_flows(kind: str) -> None:
    """The skip in `needs_flows` is for backends that declare no flows; these must have them."""
    from lro.store.postgres import PostgresStore
    from lro.store.sqlite import SQLiteStore

    cls = {"sqlite": SQLiteStore, "postgres": PostgresStore}[kind]
    assert cls.supports_flows is True
