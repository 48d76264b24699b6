"""What an attempt's outcome means for its delivery (lro.webhooks.dispatcher.decide)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lro.config import parse_schedule
from lro.deliveries import Delivery, DeliveryStatus
from lro.webhooks.dispatcher import decide
from lro.webhooks.sender import AttemptResult

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SCHEDULE = [5.0, 300.0, 1800.0]
DELIVERY = Delivery(
    id="msg_1",
    job_id="j1",
    event_type="job.completed",
    url="https://r.example/hook",
    event_at=NOW,
    status=DeliveryStatus.PENDING,
    attempts=1,
    next_attempt_at=NOW,
    created_at=NOW,
    delivered_at=None,
    last_status_code=None,
    last_error=None,
    manual=False,
)
FAILED = AttemptResult(status_code=500, duration_ms=3.0)


def test_a_2xx_is_delivered() -> None:
    record = decide(DELIVERY, AttemptResult(204, 2.0), NOW, SCHEDULE)
    assert (record.status, record.next_attempt_at, record.error) == (
        DeliveryStatus.DELIVERED,
        None,
        None,
    )


@pytest.mark.parametrize(("attempt", "delay"), [(1, 5.0), (2, 300.0), (3, 1800.0)])
def test_failures_follow_the_schedule(attempt: int, delay: float) -> None:
    record = decide(replace(DELIVERY, attempts=attempt), FAILED, NOW, SCHEDULE)
    assert record.status is DeliveryStatus.PENDING
    assert record.next_attempt_at == NOW + timedelta(seconds=delay)
    assert record.attempt == attempt
    assert record.error == "the receiver answered HTTP 500"


def test_a_schedule_of_three_delays_means_four_attempts() -> None:
    record = decide(replace(DELIVERY, attempts=4), FAILED, NOW, SCHEDULE)
    assert (record.status, record.next_attempt_at) == (DeliveryStatus.FAILED, None)


def test_gone_and_refused_targets_stop_at_once() -> None:
    gone = AttemptResult(410, 1.0, error="410 Gone", permanent=True)
    assert decide(DELIVERY, gone, NOW, SCHEDULE).status is DeliveryStatus.FAILED


def test_retry_after_postpones_but_never_hastens_or_parks_forever() -> None:
    later = AttemptResult(503, 1.0, retry_after=60.0)
    assert decide(DELIVERY, later, NOW, SCHEDULE).next_attempt_at == NOW + timedelta(seconds=60)
    sooner = AttemptResult(429, 1.0, retry_after=1.0)
    assert decide(DELIVERY, sooner, NOW, SCHEDULE).next_attempt_at == NOW + timedelta(seconds=5)
    huge = AttemptResult(503, 1.0, retry_after=10**9)
    assert decide(DELIVERY, huge, NOW, SCHEDULE).next_attempt_at == NOW + timedelta(days=1)


def test_a_manual_retry_is_one_attempt() -> None:
    record = decide(replace(DELIVERY, attempts=2, manual=True), FAILED, NOW, SCHEDULE)
    assert record.status is DeliveryStatus.FAILED


def test_parse_schedule() -> None:
    assert parse_schedule("5,300, 1800") == [5.0, 300.0, 1800.0]
    assert parse_schedule("") == []
    with pytest.raises(ValueError, match="not a list"):
        parse_schedule("5,soon")
    with pytest.raises(ValueError, match="negative"):
        parse_schedule("nan")
    with pytest.raises(ValueError, match="negative"):
        parse_schedule("5,-1")
