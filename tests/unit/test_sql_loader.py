"""The SQL loader's named parameters: `:name` in every backend's SQL, numbered once at load
time for drivers that only take `$1..$n` (asyncpg)."""

from __future__ import annotations

import pytest

from lro.store.sql import load_numbered, numbered, parse_queries


def test_names_become_numbers_in_first_use_order_and_repeat() -> None:
    q = numbered("q", "SELECT * FROM t WHERE a = :a AND b = ANY(:bs::text[]) AND c > :a")
    assert q.sql == "SELECT * FROM t WHERE a = $1 AND b = ANY($2::text[]) AND c > $1"
    assert q.params == ("a", "bs")
    assert q.args(bs=["x"], a=1) == (1, ["x"])


def test_casts_assignments_strings_identifiers_and_comments_are_left_alone() -> None:
    sql = (
        "-- uses :not_a_param in a comment\n"
        "SELECT ':nope', \"col:umn\", x::int, f(arg := :v) /* :nor_this */ FROM t"
    )
    q = numbered("q", sql)
    assert q.params == ("v",)
    assert q.sql == sql.replace("arg := :v", "arg := $1")


def test_numbered_parameters_and_dollar_quotes_are_refused() -> None:
    with pytest.raises(ValueError, match=":name"):
        numbered("q", "SELECT * FROM t WHERE a = $1")
    with pytest.raises(ValueError):
        numbered("q", "SELECT $$ body $$")


def test_a_call_must_give_every_parameter_and_nothing_else() -> None:
    q = numbered("q", "SELECT :a, :b")
    with pytest.raises(TypeError, match="missing"):
        q.args(a=1)
    with pytest.raises(TypeError, match="unexpected"):
        q.args(a=1, b=2, c=3)
    with pytest.raises(TypeError):
        q.args(a=1, c=3)


def test_includes_are_expanded_before_numbering() -> None:
    text = "-- name: cols\na, b\n\n-- name: q\nSELECT {{cols}} FROM t WHERE id = :id\n"
    assert parse_queries(text)["q"] == "SELECT a, b FROM t WHERE id = :id"
    assert numbered("q", parse_queries(text)["q"]).sql == "SELECT a, b FROM t WHERE id = $1"


def test_every_postgres_query_loads_with_names_only() -> None:
    files = ("jobs.sql", "insert.sql", "handoff.sql", "outbox.sql", "blobs.sql", "quotas.sql")
    flows = ("search.sql", "batches.sql", "dependencies.sql", "schedules.sql")
    queries = load_numbered("lro.store.postgres", *files, *flows, "rows.sql")
    assert {"claim_jobs", "insert_jobs", "fail_jobs", "rescue", "take_tokens"} <= set(queries)
    assert {"list_tagged", "insert_batch", "lock_dependencies", "advance"} <= set(queries)
    assert queries["claim_jobs"].params[0] == "now"
