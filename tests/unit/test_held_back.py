"""`rules.held_back`: the claim's arithmetic over every due job of a limited operation
(docs/metrics.md, "Held back, precisely"): each held job counted once, under the first
limit holding it, in the order key, concurrency, rate."""

from __future__ import annotations

from lro.store.rules import held_back
from lro.store.types import LimitedOperation, LimitUsage


def test_no_limit_that_holds_holds_nothing() -> None:
    spec = LimitedOperation("op", fair=True)  # fair alone orders, it never holds
    assert held_back(spec, {"a": 5, "b": 1}, {"a": 2}, 0) == LimitUsage("op", 2, 0, 0, 0)


def test_each_limit_in_turn_takes_what_the_one_before_let_through() -> None:
    spec = LimitedOperation(
        "op", concurrency=5, key_concurrency=2, rate_limit=10, rate_period_seconds=60
    )
    # Keys offer a: 2-1=1 of 4, b: 2 of 3, c: 0 of 1 (full): 3 offered, 5 held by key.
    # Concurrency 5 with 3 running lets 2 through: 1 held. The window has 9 of 10
    # starts: 1 more starts, 1 held by rate.
    due, running = {"a": 4, "b": 3, "c": 1}, {"a": 1, "c": 2}
    assert held_back(spec, due, running, 9) == LimitUsage("op", 3, 5, 1, 1)


def test_limits_already_exceeded_hold_everything_never_a_negative_count() -> None:
    # Limits lowered while jobs ran: more running than allowed, more starts than allowed.
    spec = LimitedOperation("op", concurrency=1, rate_limit=1, rate_period_seconds=60)
    assert held_back(spec, {"": 3}, {"": 4}, 5) == LimitUsage("op", 4, 0, 3, 0)
    rate_only = LimitedOperation("op", rate_limit=1, rate_period_seconds=60)
    assert held_back(rate_only, {"": 3}, {}, 5) == LimitUsage("op", 0, 0, 0, 3)


def test_nothing_due_nothing_held() -> None:
    spec = LimitedOperation("op", concurrency=1, key_concurrency=1)
    assert held_back(spec, {}, {"x": 1}, 0) == LimitUsage("op", 1, 0, 0, 0)
