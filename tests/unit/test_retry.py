"""Backoff with full jitter and the retry decision: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lro import retry


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 60.0), (10_000, 60.0), (0, 1.0)],
)
def test_ceiling_doubles_per_attempt_up_to_the_cap(attempt: int, expected: float) -> None:
    assert retry.backoff_ceiling(attempt, base=1.0, cap=60.0) == expected


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    assert retry.backoff_seconds(3, 1.0, 60.0, rand=lambda: 0.0) == 0.0
    assert retry.backoff_seconds(3, 1.0, 60.0, rand=lambda: 0.5) == 2.0
    assert retry.backoff_seconds(3, 1.0, 60.0, rand=lambda: 0.999) < 4.0
    for _ in range(200):
        assert 0.0 <= retry.backoff_seconds(5, 0.5, 3.0) <= 3.0


def test_zero_base_means_no_delay() -> None:
    assert retry.backoff_seconds(7, 0.0, 300.0, rand=lambda: 0.9) == 0.0


def test_retry_at_adds_the_delay() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert retry.retry_at(now, 2, 10.0, 300.0, rand=lambda: 0.5) == now + timedelta(seconds=10)


@pytest.mark.parametrize(
    ("attempt", "max_attempts", "retryable", "expected"),
    [
        (1, 3, True, True),
        (2, 3, True, True),
        (3, 3, True, False),
        (1, 3, False, False),
        (1, 1, True, False),
    ],
)
def test_should_retry(attempt: int, max_attempts: int, retryable: bool, expected: bool) -> None:
    assert retry.should_retry(attempt, max_attempts, retryable) is expected
