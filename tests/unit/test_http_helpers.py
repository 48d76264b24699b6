"""Pure header helpers of the API (lro.api.http): Idempotency-Key rules, RFC 7240 Prefer
parsing, ETag comparison and the adaptive Retry-After."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.support.jobs import T0, make_job

from lro.api.headers import (
    MAX_RETRY_AFTER,
    check_idempotency_key,
    etag_matches,
    job_etag,
    job_retry_after,
    parse_prefer_wait,
    suggest_retry_after,
)
from lro.errors import BadRequest
from lro.models import Status


# -- Idempotency-Key ------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["a", "order-42", "x" * 255, "with space", "~!@#$%^&*()"])
def test_valid_keys(key: str) -> None:
    assert check_idempotency_key([key]) == key


def test_absent_key() -> None:
    assert check_idempotency_key([]) is None


def test_surrounding_blanks_are_not_part_of_the_key() -> None:
    assert check_idempotency_key(["  k  "]) == "k"


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "caf\u00e9", "a\tb", "a\x7f", "\x00"])
def test_invalid_keys(key: str) -> None:
    with pytest.raises(BadRequest):
        check_idempotency_key([key])


def test_two_keys_are_refused() -> None:
    with pytest.raises(BadRequest):
        check_idempotency_key(["a", "a"])


# -- Prefer --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], None),
        (["wait=10"], 10),
        (["WAIT = 7"], 7),
        (["respond-async, wait=5"], 5),
        (["respond-async", "wait=3"], 3),
        (['wait="4"'], 4),
        (["wait=4; foo=bar"], 4),
        (["wait=1, wait=9"], 1),
        (["handling=lenient"], None),
        (["wait=soon"], None),
        (["wait=-1"], None),
        (["wait=1.5"], None),
        (["wait="], None),
        (["wait"], None),
        (['foo="a,wait=3", wait=8'], 8),
        (["waiting=3"], None),
    ],
)
def test_prefer_wait(headers: list[str], expected: int | None) -> None:
    assert parse_prefer_wait(headers) == expected


# -- ETag ----------------------------------------------------------------------------------
def test_etag_is_strong_and_changes_with_version_and_prefix() -> None:
    a = job_etag(make_job(), "/api/v1")
    assert a.startswith('"') and a.endswith('"') and not a.startswith("W/")
    assert a == job_etag(make_job(), "/api/v1")
    assert a != job_etag(make_job(version=2), "/api/v1")
    assert a != job_etag(make_job(id="j2"), "/api/v1")
    assert a != job_etag(make_job(), "/v2")


def test_if_none_match() -> None:
    tag = '"1-abc"'
    assert etag_matches([tag], tag)
    assert etag_matches(['W/"1-abc"'], tag)
    assert etag_matches(['"x", "1-abc"'], tag)
    assert etag_matches(["*"], tag)
    assert not etag_matches(['"2-abc"'], tag)
    assert not etag_matches([], tag)


# -- Retry-After ---------------------------------------------------------------------------
def suggest(**kw: object) -> int:
    args: dict[str, object] = dict(
        status=Status.PROCESSING, estimate=120.0, elapsed=10.0, progress_pct=0.0
    )
    args.update(kw)
    return suggest_retry_after(**args)  # type: ignore[arg-type]


def test_always_an_integer_between_one_and_the_cap() -> None:
    for status in Status:
        for estimate in (None, 0.0, 0.5, 10.0, 120.0, 86_400.0):
            for elapsed in (-5.0, 0.0, 1.0, 60.0, 10_000.0):
                for pct in (0.0, 1.0, 50.0, 99.9, 100.0):
                    value = suggest(
                        status=status, estimate=estimate, elapsed=elapsed, progress_pct=pct
                    )
                    assert isinstance(value, int)
                    assert 1 <= value <= MAX_RETRY_AFTER, (status, estimate, elapsed, pct)


def test_small_near_the_end() -> None:
    assert suggest(elapsed=95.0, progress_pct=95.0) <= 2


def test_larger_for_long_jobs() -> None:
    short = suggest(estimate=20.0, elapsed=2.0)
    long = suggest(estimate=3600.0, elapsed=2.0)
    assert long > short
    assert long == MAX_RETRY_AFTER


def test_shrinks_as_progress_advances() -> None:
    values = [suggest(elapsed=float(p), progress_pct=float(p)) for p in (10, 30, 60, 90, 99)]
    assert values == sorted(values, reverse=True)
    assert values[0] > values[-1]


def test_progress_rate_beats_a_wrong_estimate() -> None:
    # Estimated at 10 s, but 20 % took 100 s: about 400 s remain, so poll slowly.
    assert suggest(estimate=10.0, elapsed=100.0, progress_pct=20.0) == MAX_RETRY_AFTER


def test_queued_and_cancel_requested() -> None:
    assert suggest(status=Status.QUEUED, estimate=20.0) == 2
    assert suggest(status=Status.QUEUED, estimate=None) == 1
    assert suggest(status=Status.QUEUED, estimate=86_400.0) == 10
    assert suggest(cancel_requested=True, estimate=86_400.0) == 1


def test_job_retry_after_uses_started_at_for_running_jobs() -> None:
    running = make_job(
        status=Status.PROCESSING,
        created_at=T0 - timedelta(hours=5),
        started_at=T0,
        progress_pct=50.0,
    )
    # 50 % in 10 s since the start (not 5 h since creation): ~10 s remain.
    assert job_retry_after(running, T0 + timedelta(seconds=10)) == 3
